# Builds and installs libmba.
#
#   make                          cargo build --release (into this repository's target/, whatever
#                                 CARGO_TARGET_DIR says), then target/release/ holds libmba.so, its SONAME
#                                 link libmba.so.MAJOR (so programs linked against it start), libmba.a,
#                                 pkgconfig/mba.pc for the build tree (with an rpath), and the mba command
#   sudo make install             installs what `make` built (it never builds) under PREFIX=/usr/local
#                                 (DESTDIR honoured), then runs ldconfig for a system library directory
#   sudo make uninstall           removes it again
#
# `make install` puts libmba.so.VERSION with SONAME libmba.so.MAJOR and the usual symlinks, libmba.a,
# mba.h and mba.hpp, a pkg-config file (mba.pc), and a CMake package (find_package(mba) gives
# mba::mba, shared, and mba::mba_static), and the `mba` command in BINDIR.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
CARGO      ?= cargo
# The cargo profile `make` builds: release (target/release) or dev (target/debug).
PROFILE    ?= release
BUILD      := target/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE))
# Where `make install` takes the built libraries from; the tests install the ones their build made.
LIBSRC     ?= $(BUILD)
# The `mba` command (package mba-cli), installed when it has been built.
MBA_BIN    ?= $(BUILD)/mba
LDCONFIG   ?= $(shell command -v ldconfig 2>/dev/null || echo /sbin/ldconfig)

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))
# What a static link needs besides libmba.a (`cargo rustc -- --print native-static-libs`), less
# -lgcc_s and -lc, which the compiler driver adds itself (libgcc_s has no static archive:
# `cc -static` takes the unwinder from libgcc_eh.a instead).
STATIC_LIBS := -lutil -lrt -lpthread -lm -ldl
# True (in the shell) when LIBDIR is a directory the dynamic linker's cache covers.
SYSTEM_LIBDIR = { [ "$(LIBDIR)" = /usr/lib ] || [ "$(LIBDIR)" = /lib ] || \
                  cat /etc/ld.so.conf /etc/ld.so.conf.d/*.conf 2>/dev/null | grep -qxF "$(LIBDIR)"; }

.PHONY: all install install-files uninstall
# cargo builds in this repository's target/ whatever CARGO_TARGET_DIR or cargo's build.target-dir
# say elsewhere, so that the paths above, and the README's, hold.
all:
	CARGO_TARGET_DIR='$(CURDIR)/target' $(CARGO) build --profile $(PROFILE) -p mba -p mba-cli
	ln -sf libmba.so $(BUILD)/libmba.so.$(MAJOR)
	mkdir -p $(BUILD)/pkgconfig
	sed -e 's|@PREFIX@|$(CURDIR)|g' -e 's|@LIBDIR@|$(CURDIR)/$(BUILD)|g' -e 's|@INCLUDEDIR@|$(CURDIR)/include|g' \
	    -e 's|@VERSION@|$(VERSION)|g' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|g' \
	    -e 's|^Libs: -L$${libdir}|& -Wl,-rpath,$${libdir}|' packaging/mba.pc.in > $(BUILD)/pkgconfig/mba.pc
	@echo "make: built $(BUILD)/libmba.so (SONAME libmba.so.$(MAJOR), linked beside it), $(BUILD)/libmba.a and"
	@echo "      $(BUILD)/pkgconfig/mba.pc. Link with -Iinclude -L$(BUILD) -lmba -Wl,-rpath,$(CURDIR)/$(BUILD),"
	@echo "      or PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/pkgconfig, or install with: sudo make install."
	@echo "      The mba command: $(BUILD)/mba"

install: install-files
	@if [ -n "$(DESTDIR)" ]; then \
	  echo "make install: installed under DESTDIR=$(DESTDIR); run ldconfig on the target system"; \
	elif $(SYSTEM_LIBDIR); then \
	  if [ "$$(id -u)" = 0 ]; then $(LDCONFIG) && echo "make install: installed in $(LIBDIR) and ran ldconfig"; \
	  else echo "make install: installed in $(LIBDIR); now run: sudo ldconfig"; fi; \
	else \
	  echo "make install: installed in $(LIBDIR), which is not in the dynamic linker's search path:"; \
	  echo "  build programs with -Wl,-rpath,$(LIBDIR), or add it to /etc/ld.so.conf.d/ and run ldconfig"; \
	fi

install-files:
	@for f in libmba.so libmba.a; do \
	  [ -f "$(LIBSRC)/$$f" ] || { echo "make install: $(LIBSRC)/$$f is not built; run \`make\` first (as yourself, not root), then \`sudo make install\`" >&2; exit 1; }; \
	done
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/mba $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(LIBSRC)/libmba.so $(DESTDIR)$(LIBDIR)/libmba.so.$(VERSION)
	ln -sf libmba.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmba.so.$(MAJOR)
	ln -sf libmba.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libmba.so
	install -m 0644 $(LIBSRC)/libmba.a $(DESTDIR)$(LIBDIR)/libmba.a
	install -m 0644 include/mba.h include/mba.hpp include/mba_window.hpp $(DESTDIR)$(INCLUDEDIR)/
	$(if $(wildcard $(MBA_BIN)),install -D -m 0755 $(MBA_BIN) $(DESTDIR)$(BINDIR)/mba,@echo "make: $(MBA_BIN) is not built; the mba command is not installed (make builds it)")
	for f in mba.pc:pkgconfig/mba.pc mba-config.cmake:cmake/mba/mba-config.cmake \
	         mba-config-version.cmake:cmake/mba/mba-config-version.cmake; do \
	  sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	      -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|g' \
	      packaging/$${f%%:*}.in > $(DESTDIR)$(LIBDIR)/$${f#*:} || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libmba.so $(DESTDIR)$(LIBDIR)/libmba.so.$(MAJOR) \
	      $(DESTDIR)$(LIBDIR)/libmba.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmba.a \
	      $(DESTDIR)$(INCLUDEDIR)/mba.h $(DESTDIR)$(INCLUDEDIR)/mba.hpp $(DESTDIR)$(INCLUDEDIR)/mba_window.hpp $(DESTDIR)$(LIBDIR)/pkgconfig/mba.pc \
	      $(DESTDIR)$(BINDIR)/mba
	rm -rf $(DESTDIR)$(LIBDIR)/cmake/mba
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && $(SYSTEM_LIBDIR); then $(LDCONFIG); fi
