#!/bin/bash
# polkit: the rule wgcard-polkit-rule writes for pcscd lets the key broker
# (user _wgcard) open only the readers its configurations name. The rule
# is evaluated as polkit would (node, with polkit's addRule/Result and an
# action whose "reader" detail is pcscd's reader name): configured reader
# yes, any other reader no, other users and actions not handled; a card
# configuration without Reader allows any reader and says so; no card
# configuration, no card; a Reader crafted to break out of the string
# stays a string; the file is written 0644 whatever the umask.
T_ID=pk
. "$(dirname "$0")/../lib/common.sh"

GEN=$T_ROOT/contrib/wgcard-polkit-rule.sh
command -v node >/dev/null ||
    t_fatal "node is not installed (contrib/install-deps.sh installs nodejs)"

NK="Nitrokey Nitrokey 3 [CCID/ICCD Interface] 00 00"
YK="Yubico YubiKey OTP+FIDO+CCID 01 00"
GN="Free Software Initiative of Japan Gnuk (FSIJ-1.2.21) 00 00"

# verdicts RULEFILE: polkit's answers, comma-separated, for: the daemon,
# each of the three readers, a card with no reader detail (as _wgcard),
# a card as another user, another action as _wgcard.
verdicts()
{
	node -e '
	var rules = [];
	var polkit = { addRule: function (f) { rules.push(f); },
	    Result: { YES: "yes", NO: "no", NOT_HANDLED: "nh" } };
	eval(require("fs").readFileSync(process.argv[1], "utf8"));
	function act(id, reader) {
		return { id: id, lookup: function (k) {
		    return k === "reader" ? reader : undefined; } };
	}
	var w = { user: "_wgcard" }, card = "org.debian.pcsc-lite.access_card";
	var r = rules[0], out = [];
	out.push(r(act("org.debian.pcsc-lite.access_pcsc"), w));
	for (var i = 2; i < 5; i++)
		out.push(r(act(card, process.argv[i]), w));
	out.push(r(act(card), w));
	out.push(r(act(card, process.argv[2]), { user: "nobody" }));
	out.push(r(act("org.freedesktop.login1.reboot"), w));
	console.log(rules.length + ":" + out.join(","));
	' "$1" "$NK" "$YK" "$GN" 2>&1
}

conf()	# conf FILE LINES...: a configuration file
{
	local f=$T_TMP/$1
	shift
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

a=$(conf a.conf "[Interface]" "# Reader = Yubico" "KeySource = openpgp" \
    "Reader = Nitrokey" "ListenPort = 51820" "[Peer]" "Reader = Gnuk")
b=$(conf b.conf "[interface]" "keysource=OpenPGP" "reader=Yubico  # the desk one")
c=$(conf c.conf "[Interface]" "KeySource = openpgp")
s=$(conf s.conf "[Interface]" "PrivateKey = x" "Reader = Gnuk")
x=$(conf x.conf "[Interface]" "KeySource = openpgp" \
    'Reader = x"]; return polkit.Result.YES; //\')

"$GEN" "$a" >"$T_TMP/r1" 2>"$T_TMP/e1"
t_eq "one card configuration, Reader = Nitrokey: only that reader" \
    "$(verdicts "$T_TMP/r1")" "1:yes,yes,no,no,no,nh,nh"
t_check "...and nothing on stderr" test ! -s "$T_TMP/e1"

"$GEN" "$a" "$b" "$s" >"$T_TMP/r2" 2>/dev/null
t_eq "two card configurations (and a software one): their two readers" \
    "$(verdicts "$T_TMP/r2")" "1:yes,yes,yes,no,no,nh,nh"

"$GEN" "$a" "$c" >"$T_TMP/r3" 2>"$T_TMP/e3"
t_eq "a card configuration without Reader: any reader" \
    "$(verdicts "$T_TMP/r3")" "1:yes,yes,yes,yes,yes,nh,nh"
t_check "...and it says so, naming the file" \
    grep -q "c.conf names no Reader: every reader allowed" "$T_TMP/e3"

"$GEN" "$s" >"$T_TMP/r4" 2>"$T_TMP/e4"
t_eq "no card configuration: neither pcscd nor a card" \
    "$(verdicts "$T_TMP/r4")" "1:no,no,no,no,no,nh,nh"
t_check "...and it says so" grep -q "no card configuration" "$T_TMP/e4"

"$GEN" "$x" >"$T_TMP/r5" 2>/dev/null
t_eq "a Reader that tries to end the string stays a string" \
    "$(verdicts "$T_TMP/r5")" "1:yes,no,no,no,no,nh,nh"
t_check "...matched literally (quote and backslash kept)" node -e '
	var rules = [], polkit = { addRule: function (f) { rules.push(f); },
	    Result: { YES: "yes", NO: "no", NOT_HANDLED: "nh" } };
	eval(require("fs").readFileSync(process.argv[1], "utf8"));
	var a = { id: "org.debian.pcsc-lite.access_card", lookup: function () {
	    return "r x\"]; return polkit.Result.YES; //\\ 00"; } };
	process.exit(rules[0](a, { user: "_wgcard" }) === "yes" ? 0 : 1);
	' "$T_TMP/r5"

(umask 077; "$GEN" -o "$T_TMP/out.rules" "$a" 2>/dev/null)
t_eq "-o: written mode 0644 under umask 077" \
    "$(stat -c %a "$T_TMP/out.rules" 2>/dev/null)" 644
t_check "-o: the same rule as on stdout" cmp -s "$T_TMP/out.rules" "$T_TMP/r1"
t_check "-o: no temporary file left" \
    test "$(ls "$T_TMP" | grep -c '^out.rules')" = 1

t_check "an unreadable configuration: exit 1" \
    sh -c "! '$GEN' '$T_TMP/missing.conf' >/dev/null 2>&1"
t_check "a bad option: exit 1 with usage" \
    sh -c "'$GEN' -z 2>&1 >/dev/null | grep -q usage"

# The rule shipped in contrib/ (installed by make install) keeps working.
t_eq "contrib/50-wgcard-pcscd.rules: any reader for _wgcard only" \
    "$(verdicts "$T_ROOT/contrib/50-wgcard-pcscd.rules" | cut -d, -f1-6)" \
    "1:yes,yes,yes,yes,yes,"

t_done
