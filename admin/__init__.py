"""Admin web app for the procedure catalogue: versions, review, publish, rollback (docs/admin.md)."""
