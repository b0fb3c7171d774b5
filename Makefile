# Builds the shared objects from the Rust static archive, installs them.
#
#   make            build target/lib/libesmtp.so.6.2.0, libopensmtpd.so.0.1.0
#                   (+ symlinks)
#   make deps       install the Debian packages the demo and tests use
#   make demo       build, then send a message through a throwaway server
#   make check      every test (README's test command)
#   make install    PREFIX=/usr/local DESTDIR= LIBDIR=$(PREFIX)/lib

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
PKGDIR  ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
CC      ?= cc
CARGO   ?= cargo
PYTHON  ?= /usr/bin/python3

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

.PHONY: all deps demo check install clean FORCE
all: $(OUT)/$(ESMTP_SO) $(OUT)/$(OSMTPD_SO)

# Packed relative relocations (DT_RELR, glibc 2.36) instead of 24 bytes each,
# and a link script for a small resident set (the kernel maps a fault's
# whole 64 KiB neighbourhood): the system linker's default script with the
# functions the benchmarks run first in .text and .rodata beside the
# relocations (tools/layout.awk, bench/hot_sections.py).
LDFLAGS_COMMON := -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,-z,pack-relative-relocs

target/ld/%.ld: src/%/hot-text.ld tools/layout.awk Makefile
	@mkdir -p $(@D)
	$(CC) -shared $(LDFLAGS_COMMON) -Wl,--verbose -o $(@D)/empty.so 2>/dev/null \
	  | awk -v hot=$(CURDIR)/$< -f tools/layout.awk > $@.tmp
	mv $@.tmp $@

# --no-as-needed keeps libssl/libcrypto NEEDED like the original's, so an
# application's SSL * and ours are the same library's.
# Cargo decides whether the archive is stale; linking again is cheap.
$(OUT)/$(ESMTP_SO): target/ld/esmtp.ld FORCE
	$(CARGO) build --release --locked
	@mkdir -p $(OUT)
	$(CC) -shared -o $@ -Wl,-soname,$(ESMTP_SONAME) \
	  -Wl,--version-script=$(ESMTP_MAP) $(LDFLAGS_COMMON) -Wl,-T,target/ld/esmtp.ld \
	  -Wl,-Map,target/ld/$(ESMTP_SO).map \
	  $(addprefix -Wl$(comma)-u$(comma),$(ESMTP_EXPORTS)) \
	  $(ARCHIVE) -Wl,--no-as-needed -lssl -lcrypto -Wl,--as-needed \
	  -static-libgcc -lpthread -ldl -lm -lc
	ln -sf $(ESMTP_SO) $(OUT)/$(ESMTP_SONAME)
	ln -sf $(ESMTP_SONAME) $(OUT)/libesmtp.so

# libevent is NEEDED like the original's: filters add their own events to
# its global base, which osmtpd_run dispatches.
$(OUT)/$(OSMTPD_SO): $(OUT)/$(ESMTP_SO) target/ld/opensmtpd.ld
	$(CC) -shared -o $@ -Wl,-soname,$(OSMTPD_SONAME) \
	  -Wl,--version-script=$(OSMTPD_MAP) $(LDFLAGS_COMMON) -Wl,-T,target/ld/opensmtpd.ld \
	  -Wl,-Map,target/ld/$(OSMTPD_SO).map \
	  $(addprefix -Wl$(comma)-u$(comma),$(OSMTPD_EXPORTS)) \
	  $(ARCHIVE) -Wl,--no-as-needed -levent -Wl,--as-needed \
	  -static-libgcc -lpthread -ldl -lm -lc
	ln -sf $(OSMTPD_SO) $(OUT)/$(OSMTPD_SONAME)
	ln -sf $(OSMTPD_SONAME) $(OUT)/libopensmtpd.so

comma := ,

deps:
	bash tools/deps

demo: deps all
	bash tools/demo

check: deps all
	bash tools/check

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PKGDIR)
	install -m 0755 $(OUT)/$(ESMTP_SO) $(DESTDIR)$(LIBDIR)/$(ESMTP_SO)
	ln -sf $(ESMTP_SO) $(DESTDIR)$(LIBDIR)/$(ESMTP_SONAME)
	ln -sf $(ESMTP_SONAME) $(DESTDIR)$(LIBDIR)/libesmtp.so
	install -m 0755 $(OUT)/$(OSMTPD_SO) $(DESTDIR)$(LIBDIR)/$(OSMTPD_SO)
	ln -sf $(OSMTPD_SO) $(DESTDIR)$(LIBDIR)/$(OSMTPD_SONAME)
	ln -sf $(OSMTPD_SONAME) $(DESTDIR)$(LIBDIR)/libopensmtpd.so
	install -m 0644 include/libesmtp.h include/libesmtp-ext.h include/auth-client.h \
	  include/opensmtpd.h $(DESTDIR)$(INCDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	  pkgconfig/libesmtp-1.0.pc.in > $(DESTDIR)$(PKGDIR)/libesmtp-1.0.pc

clean:
	$(CARGO) clean
