"""``outreach demo``: the whole engine against the local simulator, sped up, end to end.

:mod:`engine.demo.leads` makes the leads, :mod:`engine.demo.setup` writes the
configs, :mod:`engine.demo.children` runs the processes, :mod:`engine.demo.runner`
drives the story and :mod:`engine.demo.report` judges the run from the simulator's log.
"""

from engine.demo.report import DemoReport, build_report
from engine.demo.runner import Demo
from engine.demo.setup import DemoPlan, plan_demo

__all__ = ["Demo", "DemoPlan", "DemoReport", "build_report", "plan_demo"]
