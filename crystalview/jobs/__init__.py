"""Headless jobs the window, the CLI and a cluster worker run alike (no Qt in here).

`library` opens images into gallery entries, `classify` classifies open images with the model
dock's settings, `cam` computes heat maps and feature maps on a consumer's own model copy,
`ranking` ranks unlabelled images by the model's uncertainty and `mistakes` draws the heat maps
of a trained model's mistakes (both for the fine-tune wizard).
Each long job is a progress generator; `crystalview.gui` runs them on worker threads.
"""
