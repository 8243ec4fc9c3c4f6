# SPDX-License-Identifier: GPL-2.0
#
# hv_azure_blob: the Azure Blob VMBus driver, its kernel series, and the
# machinery that builds and checks it. Every target installs what it needs
# from Debian 12 (apt) when it is missing. All output goes to build/.
#
#   make modules       hv_azure_blob.ko against the newest Debian 6.12 cloud
#                      kernel headers (build/modules/), zero warnings
#   make series        the kernel series as git commits on Linux 6.12 and
#                      format-patch output (build/series/)
#   make check-static  kbuild W=1 + sparse (x86_64; arm64 with 4 and 64 KiB
#                      pages), checkpatch --strict, kernel-doc, uapi header
#                      tests, pahole, docs (on build/linux-6.12)
#   make demo          the driver at work in a Debian 12 VM: apt install,
#                      one blob through /dev/azure_blob and over HTTPS
#                      on the NIC, side by side (tools/testing/azure_blob/)
#   make vm-test|kunit|e2e|azblobd   the suites of tools/testing/azure_blob/
#   make vm-test-6.1   vm-test on Debian 12's 6.1 cloud kernel
#   make kunit-arm64   the KUnit suite on arm64 with 64 KiB pages (QEMU
#                      TCG); not part of "make test"
#   make bench         what the driver saves the VM: guest instructions
#                      (and where they go), CPU and throughput per GiB,
#                      device against HTTP(S) over the NIC and azblobd
#                      in the Debian guest; writes
#                      build/bench/report.md, vm-bench.json and PNG plots
#   make bench-busybox sync ioctl versus io_uring in the busybox VM;
#                      build/bench/report-busybox.md
#   make vm-test-debug the VM suites on a KASAN/lockdep/kmemleak kernel
#   make vm-debian     the driver in a Debian 12 guest (systemd, udev, apt,
#                      DKMS) on both of its cloud kernels, 6.12 and 6.1:
#                      autoload by udev, the packages of make deb, the
#                      selftests on the DKMS-built module
#   make deb           the Debian packages (dpkg-buildpackage, in a staged
#                      copy) into build/deb/, then their checks: lintian,
#                      contents, man pages, a program built against them,
#                      dkms build for the 6.12 cloud kernel
#   make deb-build     the Debian packages only; prints the .deb files
#   make test          check-static, then every other suite; prints the
#                      totals as the last line
#   make fresh-check   README.md's commands (make demo, make test) as root
#                      in a new Debian 12 root (mmdebstrap), from nothing;
#                      FRESH_CMDS="make client" runs others instead
#
# Copyright (c) 2026 The hv_azure_blob authors

SHELL := /bin/bash
export AZ_BLOB_SRCTREE := $(CURDIR)

STATIC  := tools/testing/azure_blob/static
RIG     := tools/testing/azure_blob
RESULTS := build/results

# The suites "make test" runs, in order, after check-static. (soak and
# bench take too long for every run; see README.md.) vm-debian boots two
# kernels side by side, each building the module with DKMS for both:
# 5.5 minutes with its image cached, at load 3 here
# (tools/testing/azure_blob/README.md), about 3 more without the image.
TEST_SUITES := vm-test vm-test-6.1 kunit e2e azblobd client fuzz deb \
	vm-debian vm-test-debug

.PHONY: all modules series check-static vm-test kunit e2e demo bench test \
	bench-busybox summary print-suites clean help client vm-test-debug fuzz \
	soak vm-test-6.1 azblobd azblobd-stress interop vm-debian kunit-arm64 \
	deb deb-build fresh-check

all: modules

help:
	@sed -n 's/^#   \{0,1\}//p' Makefile | sed -n '/^make /,/last line/p'

modules:
	$(STATIC)/modules.sh

series:
	$(STATIC)/series.sh

check-static:
	$(STATIC)/check-static.sh

# The other suites live in tools/testing/azure_blob/Makefile. Each records
# "PASSED FAILED SKIPPED" in build/results/<suite>.counts.
vm-test vm-test-6.1 kunit kunit-arm64 e2e azblobd azblobd-stress interop \
		demo bench bench-busybox vm-test-debug fuzz soak vm-debian:
	@mkdir -p $(RESULTS) && rm -f $(RESULTS)/$@.counts
	@grep -Eq '^$@[[:space:]]*:' $(RIG)/Makefile 2>/dev/null || \
		{ echo "error: $(RIG)/Makefile has no target '$@' yet" >&2; \
		  exit 1; }
	$(MAKE) -C $(RIG) $@

# The client library's own suite: unit tests and its http transport
# against Azurite on the host.
client:
	@mkdir -p $(RESULTS) && rm -f $(RESULTS)/$@.counts
	$(MAKE) -C tools/azure_blob test

# The Debian packages (debian-packaging/): "deb" builds them and runs their
# suite, "deb-build" only builds them. Both leave the .debs in build/deb/.
deb:
	@mkdir -p $(RESULTS) && rm -f $(RESULTS)/$@.counts
	debian-packaging/test-deb.sh

deb-build:
	debian-packaging/build-deb.sh

# README.md's commands on a new Debian 12 machine, with empty caches:
# proves that they install everything they need. Not part of "make test".
fresh-check:
	$(RIG)/fresh/fresh-check.sh

test:
	@mkdir -p $(RESULTS) && rm -f $(RESULTS)/*.counts $(RESULTS)/*.secs
	-@for s in check-static $(TEST_SUITES); do \
		t0=$$(date +%s); \
		$(MAKE) --no-print-directory $$s || true; \
		echo $$(( $$(date +%s) - t0 )) > $(RESULTS)/$$s.secs; \
	done
	@echo "== summary =="
	@$(RIG)/summarize.sh check-static $(TEST_SUITES)

summary:
	@$(RIG)/summarize.sh check-static $(TEST_SUITES)

print-suites:
	@echo check-static $(TEST_SUITES)

clean:
	rm -rf build/modules build/series build/check-static build/results \
		build/docs-check build/deb
