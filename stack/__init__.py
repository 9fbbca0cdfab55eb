"""Local-mode process supervision: embedded redis-server, Celery worker(s), API and dashboard."""
