"""What every phase shares: the settings, the database (models, migrations, queries), a
post's states and the one state machine, a post's files, and the record of stage runs."""
