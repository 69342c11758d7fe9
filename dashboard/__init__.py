"""WaggleBot's review dashboard (Streamlit): `app.py` is the app, `views/` its pages,
`ui` what they share. Installed as a package, so every page imports `dashboard.ui`."""
