# wgcard Makefile. `make` builds build/wgcardd, build/wgcard-keyd and
# build/wgcardctl; `make check` builds and runs every test (as root for the
# integration tests); `make install` honours PREFIX and DESTDIR.

PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
BINDIR		?= $(PREFIX)/bin
MANDIR		?= $(PREFIX)/share/man
DATADIR		?= $(PREFIX)/share
SYSTEMDUNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR	?= $(PREFIX)/lib/tmpfiles.d
# polkit reads /usr/share/polkit-1/rules.d and /etc/polkit-1/rules.d only:
# under /usr the first, under any other prefix the second.
POLKITRULESDIR	?= $(if $(filter /usr,$(PREFIX)),$(DATADIR)/polkit-1/rules.d,$(ETCDIR)/polkit-1/rules.d)
BASHCOMPDIR	?= $(DATADIR)/bash-completion/completions
# The SysV init script goes to $(ETCDIR)/init.d (under DESTDIR too); the
# OpenRC script, which would take the same name, to $(DATADIR)/wgcard.
ETCDIR		?= /etc
DESTDIR		?=

CC		?= cc
PKG_CONFIG	?= pkg-config
PKGS		:= libevent libsodium libcrypto liburing libseccomp libpcsclite

CFLAGS		?= -O2 -g
# Our own flags stay even when CFLAGS is given on the command line.
WG_CFLAGS	:= -std=gnu17 -Wall -Wextra -Wshadow -Wno-unused-parameter \
		   -Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing \
		   -D_GNU_SOURCE -MMD -MP -Icommon -Inetd -Ikeyd \
		   $(shell $(PKG_CONFIG) --cflags $(PKGS))
ifneq ($(WERROR),)
WG_CFLAGS	+= -Werror
endif

# Hardened by default (HARDEN=0 leaves it to the caller): stack protector,
# stack-clash probes, CET (IBT + shadow stack notes), FORTIFY level 3, a
# position-independent executable, full RELRO and bind-now (no lazy
# binding: nothing is resolved after a child's seccomp filter is on).
# Distribution flags win where they say something: a _FORTIFY_SOURCE level
# in CPPFLAGS or CFLAGS (dpkg-buildflags gives one) is kept, not redefined.
# tests/integration/hardening.sh reads the binaries and checks each flag.
HARDEN		?= 1
ifeq ($(HARDEN),1)
HARDEN_CFLAGS	:= -fstack-protector-strong -fstack-clash-protection \
		   -fcf-protection -fPIE
HARDEN_LDFLAGS	:= -pie -Wl,-z,relro -Wl,-z,now
ifeq ($(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),)
ifeq ($(SANITIZE),)
# (ASan replaces the checked string functions itself: no FORTIFY there.)
HARDEN_CFLAGS	+= -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3
endif
endif
endif
WG_CFLAGS	+= $(HARDEN_CFLAGS)

ifneq ($(SANITIZE),)
# Sanitizer runtimes make system calls no seccomp filter of ours allows.
WG_CFLAGS	+= -fsanitize=$(SANITIZE) -DWGCARD_NO_SECCOMP
LDFLAGS		+= -fsanitize=$(SANITIZE)
endif
ALL_CFLAGS	= $(WG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDFLAGS		+= $(HARDEN_LDFLAGS)
# --as-needed: a library none of a program's code calls is not loaded
# (libcrypto is dlopen'ed by the forwarder alone, common/aead.c).
LDFLAGS		+= -Wl,--as-needed
LDLIBS		+= $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread

ifeq ($(V),1)
Q	:=
else
Q	:= @
endif

B		:= build

COMMON_SRCS	:= $(wildcard common/*.c)
NETD_LIB_SRCS	:= $(filter-out netd/wgcardd.c,$(wildcard netd/*.c))
KEYD_LIB_SRCS	:= $(filter-out keyd/keyd.c,$(wildcard keyd/*.c))
CTL_SRCS	:= $(wildcard netd/wgcardctl/*.c)
VCARD_SRCS	:= $(wildcard tests/vcard/*.c)
UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)
FUZZ_SRCS	:= $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRCS	:= $(wildcard tests/bench/*.c)
TOOL_SRCS	:= $(wildcard tests/tools/*.c)

COMMON_OBJS	:= $(COMMON_SRCS:%.c=$(B)/obj/%.o)
NETD_LIB_OBJS	:= $(NETD_LIB_SRCS:%.c=$(B)/obj/%.o)
KEYD_LIB_OBJS	:= $(KEYD_LIB_SRCS:%.c=$(B)/obj/%.o)
CTL_OBJS	:= $(CTL_SRCS:%.c=$(B)/obj/%.o)
VCARD_OBJS	:= $(VCARD_SRCS:%.c=$(B)/obj/%.o)
UNIT_BINS	:= $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
BENCH_BINS	:= $(BENCH_SRCS:tests/bench/%.c=$(B)/bench/%)
TOOL_BINS	:= $(TOOL_SRCS:tests/tools/%.c=$(B)/tools/%)

PROGS		:= $(B)/wgcardd $(B)/wgcard-keyd
ifneq ($(CTL_SRCS),)
PROGS		+= $(B)/wgcardctl
endif
# The virtual OpenPGP card of the tests and of the demo.
ifneq ($(VCARD_SRCS),)
PROGS		+= $(B)/wgcard-vcard
endif

# Benchmark programs (tests/bench/*.c) are built with everything else so
# that they cannot rot; the scripts beside them run them.
all: $(PROGS) $(BENCH_BINS)

# Objects are rebuilt when the flags change (HARDEN, SANITIZE, CFLAGS...).
FLAGS_STAMP	:= $(B)/.flags
$(shell mkdir -p $(B) && echo '$(ALL_CFLAGS) $(LDFLAGS) $(LDLIBS)' | \
    cmp -s - $(FLAGS_STAMP) 2>/dev/null || \
    echo '$(ALL_CFLAGS) $(LDFLAGS) $(LDLIBS)' >$(FLAGS_STAMP))

$(B)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libwgcommon.a: $(COMMON_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(B)/libnetd.a: $(NETD_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(B)/libkeyd.a: $(KEYD_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/wgcardd: $(B)/obj/netd/wgcardd.o $(B)/libnetd.a $(B)/libwgcommon.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/wgcard-keyd: $(B)/obj/keyd/keyd.o $(B)/libkeyd.a $(B)/libwgcommon.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/wgcard-vcard: $(VCARD_OBJS) $(B)/libwgcommon.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/wgcardctl: $(CTL_OBJS) $(B)/libkeyd.a $(B)/libwgcommon.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bench/%: $(B)/obj/tests/bench/%.o $(B)/libnetd.a $(B)/libwgcommon.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each unit test links only its own module's sources, listed one per
# line in tests/unit/test_NAME.deps.
.SECONDEXPANSION:
PCT		:= %
$(B)/tests/%: $(B)/obj/tests/unit/%.o \
    $$(patsubst $$(PCT).c,$(B)/obj/$$(PCT).o,$$(shell cat tests/unit/$$*.deps 2>/dev/null))
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test helpers (tests/tools/*.c: pcscpeer, a second PC/SC client) are
# built with the unit tests; the integration scripts run them.
$(B)/tools/%: $(B)/obj/tests/tools/%.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BINS) $(TOOL_BINS)

# make hostile: the daemon with the compromised-sibling hook (common/proc.c
# built with -DWGCARD_HOSTILE: a child can be replaced by a test program)
# and that program, tests/hostile/hostile.c. Test builds only: nothing of
# it is installed. tests/integration/hostile.sh runs it.
HOSTILE		:= $(B)/hostile
$(B)/obj/common/proc-hostile.o: common/proc.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -DWGCARD_HOSTILE -c -o $@ $<
$(HOSTILE)/wgcardd: $(B)/obj/netd/wgcardd.o $(B)/obj/common/proc-hostile.o \
    $(B)/libnetd.a $(B)/libwgcommon.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(HOSTILE)/wgcard-keyd: $(B)/wgcard-keyd
	@mkdir -p $(dir $@)
	$(Q)cp -f $< $@
$(HOSTILE)/hostile: $(B)/obj/tests/hostile/hostile.o $(B)/libwgcommon.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
hostile: $(HOSTILE)/wgcardd $(HOSTILE)/wgcard-keyd $(HOSTILE)/hostile

check: all unit
	tests/run.sh

check-unit: all unit
	tests/run.sh unit

# Every libFuzzer target (tests/fuzz/fuzz_*.c) for FUZZ_SECONDS each.
FUZZ_SECONDS	?= 300
fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# The constant-time check: the handshake and data path under valgrind's
# memcheck with the secrets marked undefined (tests/ct/run.sh).
ct:
	tests/ct/run.sh

# The static analyzer over every source file.
analyze:
	scan-build --status-bugs $(MAKE) -B all unit

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/wgcardd $(B)/wgcard-keyd $(DESTDIR)$(SBINDIR)/
	if [ -f $(B)/wgcardctl ]; then \
	    install -m 0755 $(B)/wgcardctl $(DESTDIR)$(BINDIR)/; fi
	for m in docs/*.8; do [ -f "$$m" ] && \
	    install -m 0644 $$m $(DESTDIR)$(MANDIR)/man8/ || true; done
	for m in docs/*.5; do [ -f "$$m" ] && \
	    install -m 0644 $$m $(DESTDIR)$(MANDIR)/man5/ || true; done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(ETCDIR)/init.d \
	    $(DESTDIR)$(POLKITRULESDIR) $(DESTDIR)$(DATADIR)/wgcard
	install -d -m 0700 $(DESTDIR)$(ETCDIR)/wgcard
	sed 's|/usr/local/sbin/|$(SBINDIR)/|g' contrib/wgcardd@.service \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/wgcardd@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/wgcardd@.service
	sed 's|/usr/local/sbin/|$(SBINDIR)/|g' contrib/wgcardd.init \
	    >$(DESTDIR)$(ETCDIR)/init.d/wgcardd
	chmod 0755 $(DESTDIR)$(ETCDIR)/init.d/wgcardd
	sed 's|/usr/local/sbin/|$(SBINDIR)/|g' contrib/wgcardd.openrc \
	    >$(DESTDIR)$(DATADIR)/wgcard/wgcardd.openrc
	chmod 0755 $(DESTDIR)$(DATADIR)/wgcard/wgcardd.openrc
	install -m 0644 contrib/wgcard.sysusers $(DESTDIR)$(SYSUSERSDIR)/wgcard.conf
	install -m 0644 contrib/wgcard.tmpfiles $(DESTDIR)$(TMPFILESDIR)/wgcard.conf
	install -m 0644 contrib/50-wgcard-pcscd.rules $(DESTDIR)$(POLKITRULESDIR)/
	install -m 0755 contrib/wgcard-polkit-rule.sh \
	    $(DESTDIR)$(SBINDIR)/wgcard-polkit-rule
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 contrib/wgcard.bash-completion $(DESTDIR)$(BASHCOMPDIR)/wgcardctl
	ln -sf wgcardctl $(DESTDIR)$(BASHCOMPDIR)/wgcardd
	install -m 0755 contrib/virtual-card.sh $(DESTDIR)$(DATADIR)/wgcard/
	install -m 0644 docs/wgcardctl-show.schema.json $(DESTDIR)$(DATADIR)/wgcard/

clean:
	rm -rf $(B)

.PHONY: all unit check check-unit fuzz ct analyze install clean hostile
.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
