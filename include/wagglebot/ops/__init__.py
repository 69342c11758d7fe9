"""Running unattended: the health checks, the alerts, the Prometheus metrics, the
backups, and reading what supervisord says of the services."""
