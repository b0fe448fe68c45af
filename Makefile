# Builds and installs libmba: `make`, then `make install PREFIX=/usr/local` (DESTDIR honoured).
# Installs libmba.so.VERSION with SONAME libmba.so.MAJOR and the usual symlinks, libmba.a,
# mba.h and mba.hpp, a pkg-config file (mba.pc), and a CMake package (find_package(mba) gives
# mba::mba, shared, and mba::mba_static), and the `mba` command in BINDIR.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
CARGO      ?= cargo
# Where the built libraries are; the tests install the ones their own build made.
LIBSRC     ?= target/release
# The `mba` command (package mba-cli), installed when it has been built.
MBA_BIN    ?= target/release/mba

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))
# What a static link needs besides libmba.a (`cargo rustc -- --print native-static-libs`).
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl

.PHONY: all install install-files uninstall
all:
	$(CARGO) build --release --lib
	$(CARGO) build --release -p mba-cli

install: all install-files

install-files:
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/mba $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(LIBSRC)/libmba.so $(DESTDIR)$(LIBDIR)/libmba.so.$(VERSION)
	ln -sf libmba.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmba.so.$(MAJOR)
	ln -sf libmba.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libmba.so
	install -m 0644 $(LIBSRC)/libmba.a $(DESTDIR)$(LIBDIR)/libmba.a
	install -m 0644 include/mba.h include/mba.hpp include/mba_window.hpp $(DESTDIR)$(INCLUDEDIR)/
	$(if $(wildcard $(MBA_BIN)),install -D -m 0755 $(MBA_BIN) $(DESTDIR)$(BINDIR)/mba,@echo "make: $(MBA_BIN) is not built; the mba command is not installed (cargo build --release -p mba-cli)")
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
