"""One evaluation harness: run an episode, evaluate a grid, build a comparison's env (harness),
one summary per condition and paired differences (summary), tables, files and plots (reports),
and the train/eval split by episode (splits).
"""
