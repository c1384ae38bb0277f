"""The ASGI app of ``fcov serve`` (FastAPI): the what-if page and its JSON API (OpenAPI at ``/docs``).

Safety, for a page that may be opened on a meeting-room machine: request
bodies are size-limited before they are parsed and validated by pydantic
models and then by the CLI's point reader (bad coordinates are a 422 with the
reader's reason, never a 500); no endpoint takes a filesystem path; the
page inserts every name as text; the study is read only and each scenario is
computed per request, so two tabs never see each other's stations.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from coverage.errors import CoverageError
from coverage.serve.models import MAX_STATIONS, Scenario, Suggest

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.serve.state import ServeState

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""Largest request body accepted (bytes); 200 stations with long names need about 30 KB."""
STATIC = Path(__file__).resolve().parent / "static"
VENDOR = Path(__file__).resolve().parents[1] / "vendor"


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, by its Content-Length or as it streams in."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._reject(send)
            return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send: Any) -> None:
        import json

        body = json.dumps({"detail": f"request body larger than {self.limit // 1024} KB"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def create_app(state: ServeState) -> FastAPI:
    """The app over one loaded (or loading) :class:`~coverage.serve.state.ServeState`."""
    from coverage.serve import payload
    from coverage.serve.points import check_crs, read_request_points, stations_csv

    app = FastAPI(
        # /docs is served below from the swagger-ui-bundle package: FastAPI's default loads it from a CDN,
        # which a meeting-room machine without internet cannot reach
        docs_url=None,
        redoc_url=None,
        title="fcov serve: what-if for proposed 120 stations",
        description=("Add, move and remove proposed stations and see every district's verdict change. The numbers "
                     "equal `fcov check-stations` on the same inputs; see docs/serve.md."),
        version=_version(),
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Any, err: RequestValidationError) -> JSONResponse:
        # the offending input is not echoed back (it may be NaN, which JSON cannot carry, or megabytes long)
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in err.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(CoverageError)
    async def _bad_input(_request: Any, err: CoverageError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(err)})

    def ready() -> ServeState:
        if not state.ready:
            raise HTTPException(status_code=503, detail=state.status.error or "the study is still loading")
        return state

    def proposed(body: Scenario) -> gpd.GeoDataFrame:
        crs = check_crs(body.crs)
        return read_request_points(state.study, [s.model_dump() for s in body.stations], crs=crs)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/api/status", summary="Load progress: loading | ready | error, with the steps done")
    def status() -> dict[str, Any]:
        return state.status.as_dict()

    @app.get("/api/study", summary="Districts, existing facilities, roads and the standards of the study")
    def study() -> dict[str, Any]:
        return payload.study_payload(ready())

    @app.get("/api/coverage", summary="Coverage of the existing facilities for one of the config's standards")
    def coverage(standard: Annotated[str, Query(max_length=80, description="Standard id")]) -> dict[str, Any]:
        return payload.coverage_payload(standard, ready().coverage(standard))

    @app.post("/api/scenario", summary="Per-district results with the proposed stations added")
    def scenario(body: Annotated[Scenario, Body()]) -> dict[str, Any]:
        ready()
        return payload.scenario_payload(state.scenario(proposed(body), body.standard))

    @app.post("/api/suggest", summary="Suggest N more stations (MCLP) with the existing and current proposed fixed")
    def suggest(body: Annotated[Suggest, Body()]) -> dict[str, Any]:
        ready()
        from coverage.serve.actions import suggest_sites

        with state.heavy_lock:
            return payload.clean(suggest_sites(state, proposed(body), n=body.n, standard=body.standard))

    @app.post("/api/export/stations.csv", summary="The proposed stations as a CSV in the input format",
              response_class=Response)
    def export_stations(body: Annotated[Scenario, Body()]) -> Response:
        ready()
        frame = proposed(body)
        crs = state.default_check.proposed_crs
        return Response(content=stations_csv(frame, crs=crs), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="proposed_stations.csv"'})

    @app.post("/api/export/report.zip", summary="The full report (as `fcov report`) with these proposed stations",
              response_class=Response)
    def export_report(body: Annotated[Scenario, Body()]) -> Response:
        ready()
        from coverage.serve.actions import report_folder

        frame = proposed(body)
        if len(frame) == 0:
            raise HTTPException(status_code=422, detail="add at least one proposed station before exporting the report")
        with state.heavy_lock:
            folder = report_folder(state, frame)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and path.name != "stamp.json":
                        archive.write(path, path.relative_to(folder).as_posix())
        return Response(content=buffer.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": 'attachment; filename="fcov_report.zip"'})

    _offline_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/vendor", StaticFiles(directory=VENDOR), name="vendor")
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` with its script and style from the installed swagger-ui-bundle."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    app.mount("/_swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def _docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title}: API",
                                   swagger_js_url="/_swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/_swagger/swagger-ui.css",
                                   swagger_favicon_url="/_swagger/favicon-32x32.png")


def _version() -> str:
    from coverage import __version__

    return str(__version__)
