"""The Streamlit pages: thin views over the package, which never imports Streamlit itself."""
