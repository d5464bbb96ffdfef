"""PlatformIO test runner for the project's C harness (firmware/lib/unit_harness).

Unity, doctest and googletest are downloads PlatformIO cannot make offline; this runner needs none.
It turns each `file:line:name:PASS|FAIL[:message]` line into a test case and ends the suite at the
harness's closing line.
"""
import re

import click
from platformio.test.result import TestCase, TestCaseSource, TestStatus
from platformio.test.runners.base import TestRunnerBase

CASE_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<name>[^:\n]+):(?P<status>PASS|FAIL)(?::(?P<message>.*))?$"
)
DONE_LINE = re.compile(r"^UNIT_HARNESS_DONE tests=(?P<tests>\d+) failures=(?P<failures>\d+)")


class CustomTestRunner(TestRunnerBase):
    def on_testing_line_output(self, line):
        click.echo(line, nl=False)
        text = line.strip()
        case = CASE_LINE.match(text)
        if case:
            self.test_suite.add_case(
                TestCase(
                    name=case.group("name"),
                    status=TestStatus.PASSED if case.group("status") == "PASS" else TestStatus.FAILED,
                    message=case.group("message"),
                    source=TestCaseSource(case.group("file"), int(case.group("line"))),
                )
            )
        elif DONE_LINE.match(text):
            self.test_suite.on_finish()
