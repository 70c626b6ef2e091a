"""The one CLV error the rest of Siyu handles, apart from the model's maths: importing
numpy and scipy takes about a second, which the web and CLI processes should not pay."""


class FitError(Exception):
    """The data cannot support a fit (too few customers or repeat buyers, no convergence)."""
