# The image the pipeline's `pytest` job runs in: the same Debian and Python as CI machines,
# with what `make test` would otherwise install with apt on every run (Debian's Chromium for the
# browser tests, Node.js for the tablet's rule checks) and uv. The project's own dependencies are
# not baked in: `make test` installs them from uv.lock, cached per lock file by the job.
#
# The pipeline tags this image with the first 12 hex digits of this file's SHA-256 (see
# TEST_IMAGE in .gitlab-ci.yml; a test keeps the two in step), so an edit here builds a new image
# and an unchanged file reuses the one already in the registry.
FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

FROM python:3.11-bookworm

COPY --from=uv /uv /uvx /usr/local/bin/

# --no-install-recommends keeps fonts and desktop extras out; Chromium still renders text with
# the fonts it depends on. Versions are Debian bookworm's current ones, not pinned: this image
# only runs the tests, and pinning would break the build at each Debian security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       chromium nodejs make \
    && rm -rf /var/lib/apt/lists/*

ENV UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
