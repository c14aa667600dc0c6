# talkdeploy developer entry points. Two of them are the README's commands:
#   make demo   set up, start the lab, apply and verify the whole deployment
#   make test   set up and run every test: unit, lint, all molecule scenarios
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(abspath .ansible/collections)

.PHONY: help setup docker host-packages images unit pytest lint molecule test demo bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(VENV)/.installed: pyproject.toml setup.py galaxy.yml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -c 'import talkdeploy.resources as r; r.locate()'  # links the collection
	touch $@

setup: $(VENV)/.installed  ## create .venv with talkdeploy and the dev tools

docker:  ## make a Docker engine available (installs and starts one as root on Debian)
	scripts/ensure-docker.sh

images: docker host-packages  ## build the debootstrap base images (kept when present)
	scripts/build-images.sh

host-packages:  ## Debian packages the tests use (turnutils_uclient, php-cli, openssl)
	scripts/ensure-host-packages.sh

unit: setup host-packages  ## pytest for talkdeploy/ (no containers)
	scripts/run-pytest.sh tests -m 'not docker'

lint: setup  ## ruff, mypy, yamllint, ansible-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --offline

molecule: setup images  ## every molecule scenario (SCENARIOS="a b" for some)
	scripts/run-molecule.sh $(SCENARIOS)

pytest: setup images  ## every pytest test, the container-backed ones included
	scripts/run-pytest.sh tests

test: setup lint images pytest molecule  ## everything CI runs

demo: setup images  ## the main job on the built-in lab
	scripts/demo.sh

bench: setup images host-packages  ## benchmarks that print figures (on the lab: starts and deploys it)
	$(BIN)/talkdeploy lab up
	$(BIN)/talkdeploy apply -i inventories/lab --yes
	$(PY) bench/run.py -i inventories/lab
	$(PY) bench/load.py

clean:  ## remove the virtualenv and build output
	rm -rf $(VENV) build dist *.egg-info
