"""One evaluation harness: run an episode, evaluate a grid (harness), summaries, paired
differences and results files (reports), and the train/eval split by episode (splits).
"""
