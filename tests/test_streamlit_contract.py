"""What streamlit_app.py relies on inside Streamlit: checked here, so an upgrade that changes
it fails a test instead of silently bringing back a slow page.
"""

from __future__ import annotations

import ast
import inspect

from streamlit.runtime.scriptrunner import script_runner


def test_streamlit_still_clears_keras_through_the_hook_the_app_switches_off():
    # streamlit_app.py replaces script_runner._clean_problem_modules, which calls
    # keras.backend.clear_session() after every run (150-200 ms a stroke). If Streamlit renames
    # or drops it, the app's switch does nothing: look for the new hook and update the app.
    # Read from the module's source: the app (run by other tests) may have replaced it already.
    tree = ast.parse(inspect.getsource(script_runner))
    hooks = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_clean_problem_modules"]
    assert hooks, "streamlit.runtime.scriptrunner.script_runner._clean_problem_modules is gone"
    assert "clear_session" in ast.unparse(hooks[0])
    # The script runner looks it up as a module global after each run (today through
    # `_log_if_error(_clean_problem_modules)`), so replacing the module attribute switches it off.
    used = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id == "_clean_problem_modules" and isinstance(n.ctx, ast.Load)
    ]
    assert used, "Streamlit no longer calls _clean_problem_modules after a run"
