# The parts of gunicorn's API that customerinfo.gunicorn_config uses; gunicorn ships no types.
version_info: tuple[int, int, int]
__version__: str
