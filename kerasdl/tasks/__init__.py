"""Tasks: what a run does for each model family (``task.py`` holds the
protocol), the catalogue that picks one for a recipe, and the one run loop
(``loop.py``) that ``kerasdl run`` and ``kerasdl tune`` drive them through.
"""
