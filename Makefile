# Builds the shared objects from the Rust static archive, installs them.
#
#   make              build target/lib/libesmtp.so.6.2.0, libopensmtpd.so.0.1.0
#                     (+ symlinks)
#   make deps         install the Debian packages the tests use (tools/deps)
#   make demo         build, then send a message through a throwaway server
#   make check        every test (README's test command)
#   make fuzz-smoke   the fuzz targets on their corpora, briefly (tools/fuzz)
#   make install      what `make` built, and the man pages: PREFIX=/usr/local
#                     DESTDIR= LIBDIR= INCDIR= PKGDIR= MANDIR= FORCE=1 (see
#                     tools/install); never builds
#   make install-strip  the same, stripped (DEBUGDIR=/usr/lib/debug keeps the
#                     debug info, by build id)
#   make uninstall    removes what install put there
#   make dist         the source tarball, crates vendored (tools/dist)
#   make deb          the Debian packages from it, and lintian (tools/deb)
#
#   RELR=             link without packed relative relocations (default: with
#                     them where the linker and glibc support them)
#   LAYOUT=default    link with the linker's own layout instead of the
#                     hot-text script (same code, larger resident set)

PREFIX  ?= /usr/local
# The multiarch directory where the system has one: in ld.so's search path
# before /usr/lib on Debian (see README, "Replacing the system's libraries").
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch 2>/dev/null)
LIBDIR  ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
INCDIR  ?= $(PREFIX)/include
PKGDIR  ?= $(LIBDIR)/pkgconfig
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=
DEBUGDIR ?=
FORCE   ?=
CC      ?= cc
CARGO   ?= cargo
PYTHON  ?= /usr/bin/python3
# Decided once, and only by the targets that link.
ifeq ($(origin RELR),undefined)
RELR = $(eval RELR := $(shell sh tools/have-relr "$(CC)"))$(RELR)
endif
LAYOUT  ?= hot

OUT     := target/lib
ARCHIVE := target/release/libmailcompat.a

ESMTP_SO := libesmtp.so.6.2.0
ESMTP_SONAME := libesmtp.so.6
ESMTP_MAP := src/esmtp/libesmtp.map
# Every exported name, so the linker pulls it out of the archive.
ESMTP_EXPORTS := $(shell sed -n 's/^ *\([A-Za-z_][A-Za-z0-9_]*\);$$/\1/p' $(ESMTP_MAP))

OSMTPD_SO := libopensmtpd.so.0.1.0
OSMTPD_SONAME := libopensmtpd.so.0
OSMTPD_MAP := src/opensmtpd/libopensmtpd.map
OSMTPD_EXPORTS := $(shell sed -n 's/^ *\([A-Za-z_][A-Za-z0-9_]*\);$$/\1/p' $(OSMTPD_MAP))

.PHONY: all deps demo check fuzz-smoke install install-strip uninstall dist deb clean always
all: $(OUT)/$(ESMTP_SO) $(OUT)/$(OSMTPD_SO)

# Packed relative relocations (DT_RELR, glibc 2.36) instead of 24 bytes each,
# where supported, and a link script for a small resident set (the kernel
# maps a fault's whole 64 KiB neighbourhood): the system linker's default
# script with the functions the benchmarks run first in .text and .rodata
# beside the relocations (tools/layout.awk, bench/hot_sections.py).
LDFLAGS_COMMON = -Wl,--gc-sections -Wl,-z,relro,-z,now $(RELR)

# The link flags as a file that changes only when they do, so that a
# change of RELR or LAYOUT relinks.
target/ld/flags: always
	@mkdir -p $(@D)
	@echo '$(LDFLAGS_COMMON) layout=$(LAYOUT)' | cmp -s - $@ || echo '$(LDFLAGS_COMMON) layout=$(LAYOUT)' > $@

target/ld/%.ld: src/%/hot-text.ld tools/layout.awk target/ld/flags
	@mkdir -p $(@D)
	$(CC) -shared $(LDFLAGS_COMMON) -Wl,--verbose -o $(@D)/empty.so 2>/dev/null \
	  | awk -v hot=$(CURDIR)/$< -f tools/layout.awk > $@.tmp
	mv $@.tmp $@

# The hot-text link script, unless LAYOUT=default.
script = $(if $(filter hot,$(LAYOUT)),target/ld/$(1).ld)

$(ARCHIVE): always
	@command -v $(CARGO) > /dev/null || { echo "cargo not found: Rust 1.85 or later is needed (https://rustup.rs; README, 'Building')"; exit 1; }
	$(CARGO) build --release --locked

# --no-as-needed keeps libssl/libcrypto NEEDED like the original's, so an
# application's SSL * and ours are the same library's.
# Cargo decides whether the archive is stale; linking again is cheap.
$(OUT)/$(ESMTP_SO): $(ARCHIVE) $(call script,esmtp) target/ld/flags
	@mkdir -p $(OUT)
	$(CC) -shared -o $@ -Wl,-soname,$(ESMTP_SONAME) \
	  -Wl,--version-script=$(ESMTP_MAP) $(LDFLAGS_COMMON) $(addprefix -Wl$(comma)-T$(comma),$(call script,esmtp)) \
	  -Wl,-Map,target/ld/$(ESMTP_SO).map \
	  $(addprefix -Wl$(comma)-u$(comma),$(ESMTP_EXPORTS)) \
	  $(ARCHIVE) -Wl,--no-as-needed -lssl -lcrypto -Wl,--as-needed \
	  -static-libgcc -lpthread -ldl -lm -lc
	ln -sf $(ESMTP_SO) $(OUT)/$(ESMTP_SONAME)
	ln -sf $(ESMTP_SONAME) $(OUT)/libesmtp.so

# libevent is NEEDED like the original's: filters add their own events to
# its global base, which osmtpd_run dispatches.
$(OUT)/$(OSMTPD_SO): $(ARCHIVE) $(call script,opensmtpd) target/ld/flags
	@mkdir -p $(OUT)
	$(CC) -shared -o $@ -Wl,-soname,$(OSMTPD_SONAME) \
	  -Wl,--version-script=$(OSMTPD_MAP) $(LDFLAGS_COMMON) $(addprefix -Wl$(comma)-T$(comma),$(call script,opensmtpd)) \
	  -Wl,-Map,target/ld/$(OSMTPD_SO).map \
	  $(addprefix -Wl$(comma)-u$(comma),$(OSMTPD_EXPORTS)) \
	  $(ARCHIVE) -Wl,--no-as-needed -levent -Wl,--as-needed \
	  -static-libgcc -lpthread -ldl -lm -lc
	ln -sf $(OSMTPD_SO) $(OUT)/$(OSMTPD_SONAME)
	ln -sf $(OSMTPD_SONAME) $(OUT)/libopensmtpd.so

comma := ,

deps:
	bash tools/deps check

demo:
	bash tools/deps demo
	$(MAKE) all
	bash tools/demo

check:
	bash tools/deps check
	$(MAKE) all
	bash tools/check

# Every fuzz target on its corpus, then 10 s of new inputs each
# (tools/fuzz; part of make check).
fuzz-smoke:
	bash tools/fuzz smoke 10

INSTALL_VARS = PREFIX='$(PREFIX)' LIBDIR='$(LIBDIR)' INCDIR='$(INCDIR)' PKGDIR='$(PKGDIR)' \
  MANDIR='$(MANDIR)' DESTDIR='$(DESTDIR)' DEBUGDIR='$(DEBUGDIR)' FORCE='$(FORCE)'

install:
	$(INSTALL_VARS) bash tools/install install

install-strip:
	$(INSTALL_VARS) STRIP=1 bash tools/install install

dist:
	bash tools/dist

deb:
	bash tools/deb

uninstall:
	$(INSTALL_VARS) bash tools/install uninstall

clean:
	$(CARGO) clean
