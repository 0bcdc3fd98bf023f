"""Entry points that wire kaiban together: the worker, the development stack, the demo."""
