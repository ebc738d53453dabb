"""The HTTP and WebSocket API: ``ttq serve`` (FastAPI on uvicorn), auth, jobs, runs, node control.

``create_app`` builds the application; ``docs/api.md`` describes the endpoints and the WebSocket
protocol, and the server publishes its OpenAPI document at ``/api/v1/openapi.json``.
"""
