"""digitdraw's web app: `streamlit run streamlit_app.py`.

Thin on purpose: each page lives in digitdraw/ui/, and the work is done by the package.
"""

import streamlit as st

from digitdraw.ui import draw_page, inspect_page, train_page

st.set_page_config(page_title="digitdraw", page_icon=":material/draw:", layout="wide")

pages = [
    st.Page(draw_page.page, title="Draw", icon=":material/draw:", default=True),
    st.Page(train_page.page, title="Train", icon=":material/model_training:", url_path="train"),
    st.Page(inspect_page.page, title="Inspect", icon=":material/query_stats:", url_path="inspect"),
]
st.navigation(pages).run()
