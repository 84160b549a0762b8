/**
 * JUnit reports as pytest 9.2.0 (junit_family xunit2) wrote them, trimmed tracebacks aside: a run
 * stopped by two collection errors (an import and a syntax error), and one with
 * --continue-on-collection-errors where the other modules ran.
 */
export const COLLECTION_JUNIT = `<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="2" failures="0" skipped="0" tests="2" time="0.406" hostname="vm"><testcase classname="" name="tests.test_commands" time="0.000"><error message="collection failure">ImportError while importing test module '/src/tests/test_commands.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/usr/local/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tests/test_commands.py:1: in &lt;module&gt;
    import chatbot
E   ModuleNotFoundError: No module named 'chatbot'</error></testcase><testcase classname="" name="tests.test_syntax" time="0.000"><error message="collection failure">/opt/venv/lib/python3.11/site-packages/_pytest/python.py:528: in importtestmodule
    mod = import_path(
/usr/local/lib/python3.11/ast.py:50: in parse
    return compile(source, filename, mode, flags,
E     File "/src/tests/test_syntax.py", line 1
E       def test_x(:
E                  ^
E   SyntaxError: invalid syntax</error></testcase></testsuite></testsuites>`;

export const MIXED_JUNIT = `<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="0" tests="3" time="0.096" hostname="vm"><testcase classname="" name="tests.test_bad" time="0.000"><error message="collection failure">ImportError while importing test module '/src/tests/test_bad.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
tests/test_bad.py:1: in &lt;module&gt;
    import nope
E   ModuleNotFoundError: No module named 'nope'</error></testcase><testcase classname="tests.test_fine" name="test_ok" time="0.001" /><testcase classname="tests.test_fine" name="test_bad" time="0.001"><failure message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2</failure></testcase></testsuite></testsuites>`;
