"""What streamlit_app.py relies on inside Streamlit: checked here, so an upgrade that changes
it fails a test instead of silently bringing back a slow page.
"""

from __future__ import annotations

import inspect

from streamlit.runtime.scriptrunner import script_runner


def test_streamlit_still_clears_keras_through_the_hook_the_app_switches_off():
    # streamlit_app.py replaces script_runner._clean_problem_modules, which calls
    # keras.backend.clear_session() after every run (150-200 ms a stroke). If Streamlit renames
    # or drops it, the app's switch does nothing: look for the new hook and update the app.
    hook = getattr(script_runner, "_clean_problem_modules", None)
    assert callable(hook), "streamlit.runtime.scriptrunner.script_runner._clean_problem_modules is gone"
    assert "clear_session" in inspect.getsource(hook)
    # The script runner calls it through the module global, which is what the app replaces.
    assert "_clean_problem_modules()" in inspect.getsource(script_runner)
