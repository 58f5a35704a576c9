#!/usr/bin/env bash
# The whole test suite, as CI runs it (root, Debian 12; .ci/run installs the packages first):
#   1. mvn -B verify -Pimages: unit tests and integration tests of every module (real processes under
#      ptrace, Fabric8's mock API server, the chart rendered), and the agent and operator images;
#   2. e2e/run-e2e.sh: the end-to-end suite on a two-node Kubernetes cluster brought up on this machine
#      (Kubernetes is built once from Debian's source package and cached in /var/cache/telefork-e2e),
#      always torn down afterwards, the host checked clean.
# Only the fast tests (step 1 without the images, no cluster): mvn -B verify
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
mvn -B verify -Pimages
SKIP_IMAGE_BUILD=1 e2e/run-e2e.sh
