"""The interactive API page at ``/docs``, served from the package.

FastAPI's default page loads Swagger UI from a CDN, so it is blank without internet; here its
files come from ``swagger-ui-bundle-v2`` (Swagger UI 5, which reads OpenAPI 3.1) and are served
under ``/docs/assets``. ReDoc, which also needs a CDN, is not offered.
"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

#: Where Swagger UI's files are served.
ASSETS = "/docs/assets"


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` for ``app``'s OpenAPI schema (create ``app`` with
    ``docs_url=None``).

    >>> app = FastAPI(docs_url=None, redoc_url=None)
    >>> add_docs(app)
    >>> [route.path for route in app.routes][-2:]
    ['/docs/assets', '/docs']
    """
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title}: API",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/favicon-32x32.png")
