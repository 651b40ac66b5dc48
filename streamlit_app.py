"""digitdraw's web app: `streamlit run streamlit_app.py`.

Thin on purpose: each page lives in digitdraw/ui/, and the work is done by the package.
"""

import streamlit as st
from streamlit.runtime.scriptrunner import script_runner

from digitdraw.predict import one_blas_thread
from digitdraw.ui import canvas, corrections, draw_page, drawings_page, icon, inspect_page, train_page

# Streamlit calls keras.backend.clear_session() after every script run, for apps that build a
# model per run. Ours are built once (st.cache_resource) and a training run may be going on in
# a background thread; clearing cost 150-200 ms per stroke and ~30 ms on the next prediction.
# tests/test_streamlit_contract.py fails if a Streamlit upgrade renames or drops this hook.
script_runner._clean_problem_modules = lambda: None

# One server answers every session's drawings: see one_blas_thread. Once per server process.
st.cache_resource(show_spinner=False)(one_blas_thread)()

st.set_page_config(page_title="digitdraw", page_icon=icon.favicon(), layout="wide")

pages = [
    st.Page(draw_page.page, title="Draw", icon=":material/draw:", default=True),
    st.Page(train_page.page, title="Train", icon=":material/model_training:", url_path="train"),
    st.Page(inspect_page.page, title="Inspect", icon=":material/query_stats:", url_path="inspect"),
    st.Page(
        drawings_page.page,
        title=corrections.DRAWINGS_PAGE_TITLE,
        icon=":material/photo_library:",
        url_path=corrections.DRAWINGS_URL_PATH,
    ),
]
page = st.navigation(pages)
# Each page's own browser tab title: a teacher's tabs of the app all read "digitdraw" (qa24).
st.set_page_config(page_title=f"{page.title} · digitdraw")
# On every page, not only where drawings are saved: a reload anywhere keeps the same browser, and
# the same tab's drawing to bring back (a page switch drops the address's ?tab=).
corrections.remember_browser()
corrections.offer_link()
canvas.reload_key(corrections.browser_id())
page.run()
