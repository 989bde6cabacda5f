# shellcheck shell=bash
# The migration channel with X.509 certificates (--tls-cacert, --tls-cert,
# --tls-key; docs/migration.md, "Channel"), for test/bad-input/cases.sh,
# with migrate-cases.sh's helpers (sourced before it).  The certificates
# are made for each case with certtool (gnutls-bin): two CAs, a and b, each
# signing a server certificate for 127.0.0.1 and a client one, and a
# signing one more server certificate, for 127.0.0.2.  A migration with
# certificates moves the counting test (migrate-x509); a peer whose
# certificate another CA signed (migrate-x509-wrong-ca, both ways), one
# without a certificate (migrate-x509-no-client-cert), a server whose
# certificate names another address (migrate-x509-name-mismatch, which
# --tls-no-cn-verify lets through), a private key others can read
# (migrate-x509-key-mode) and a peer with a pre-shared key
# (migrate-x509-psk-peer) are refused before anything is frozen, the
# target untouched, serve serving on; the options mixed or incomplete, and
# files that are missing or not PEM, are refused with one line each
# (migrate-x509-options).

# pki_leaf CA NAME PURPOSE [IP]: RD/pki/CA/NAME.{key,pem}, signed by CA.
pki_leaf() {
	local d=$RD/pki/$1

	{
		printf 'cn = "lmproc test %s %s"\n%s\nsigning_key\nencryption_key\n' "$1" "$2" "$3"
		printf 'expiration_days = 2\n'
		[ -n "${4:-}" ] && printf 'ip_address = "%s"\n' "$4"
	} >"$d/$2.tmpl"
	(umask 077 && certtool --generate-privkey --key-type=ecdsa --outfile "$d/$2.key") &&
		certtool --generate-certificate --load-privkey "$d/$2.key" --load-ca-certificate \
			"$d/ca.pem" --load-ca-privkey "$d/ca.key" --template "$d/$2.tmpl" \
			--outfile "$d/$2.pem"
}

pki_make() {
	local ca d

	for ca in a b; do
		d=$RD/pki/$ca
		mkdir -p "$d"
		printf 'cn = "lmproc test CA %s"\nca\ncert_signing_key\nexpiration_days = 2\n' \
			"$ca" >"$d/ca.tmpl"
		(umask 077 && certtool --generate-privkey --key-type=ecdsa --outfile "$d/ca.key") ||
			return 1
		certtool --generate-self-signed --load-privkey "$d/ca.key" --template "$d/ca.tmpl" \
			--outfile "$d/ca.pem" || return 1
		pki_leaf "$ca" srv tls_www_server 127.0.0.1 || return 1
		pki_leaf "$ca" cli tls_www_client || return 1
	done
	pki_leaf a far tls_www_server 127.0.0.2
}

# x509_pki: the CAs and certificates (ECDSA P-256, valid for 2 days).
x509_pki() {
	if ! command -v certtool >/dev/null; then
		REASON="certtool is missing (gnutls-bin; make deps installs it)"
		return 1
	fi
	if ! pki_make >"$RD/pki.log" 2>&1; then
		REASON="certtool failed: $(tail -n 1 "$RD/pki.log")"
		return 1
	fi
}

# x509 TRUST CERT: X509 holds the options for the CA TRUST (a or b) and the
# certificate CERT (CA/NAME) with its key.
x509() {
	X509=(--tls-cacert "$RD/pki/$1/ca.pem" --tls-cert "$RD/pki/$2.pem" --tls-key \
		"$RD/pki/$2.key")
}

# x509_case FUNC: mig_case's FUNC, with the certificates made first.
x509_case() {
	x509_pki || return 1
	"$@"
}

# serve_x509 CERT: serve_up with a's CA and CERT (a/srv unless given).
serve_x509() {
	x509 a "${1:-a/srv}"
	serve_up "${X509[@]}"
}

# untouched: the target as it was, running, after refusals.
untouched() {
	if ! same_state "$TPID" "$TSNAP" 1000; then
		REASON="target changed: $REASON"
		return 1
	fi
	target_runs
}

# (1) certificates both ways: serve says so, and the counting test moves
# and passes its checks there.
case_migrate_x509() {
	target_up || return 1
	serve_x509 || return 1
	serve_says 1 "listening on .*(TLS 1.3, X.509 certificates)" || return 1
	x509 a a/cli
	if ! mig "${X509[@]}"; then
		REASON="migrate failed: $(head -n 2 "$RD/bad.err" | cut -c1-300)"
		return 1
	fi
	moved_passes 1
}

# (2) a client whose certificate b signed: serve refuses it, naming why,
# and tells migrate (a TLS alert); a server whose certificate migrate's
# CA (b) did not sign: migrate refuses it.  Nothing frozen, one line
# each; then a good one moves.
case_migrate_x509_wrong_ca() {
	target_up || return 1
	serve_x509 || return 1
	x509 a b/cli
	mig "${X509[@]}"
	refused $? "pid $TPID" "refused before anything was frozen" \
		"the peer ended TLS with an alert: Certificate is bad" || return 1
	serve_says 1 "connection 1 from 127\.0\.0\.1:[0-9]* refused: TLS handshake failed: the \
peer's certificate is refused: .*issuer is unknown" || return 1
	x509 b a/cli
	mig "${X509[@]}"
	refused $? "pid $TPID" "refused before anything was frozen" \
		"the peer's certificate is refused" "issuer is unknown" || return 1
	serve_says 1 "connection 2 from 127\.0\.0\.1:[0-9]* refused: TLS handshake failed" ||
		return 1
	untouched || return 1
	x509 a a/cli
	mig "${X509[@]}" || { REASON="the good migration failed after the bad"; return 1; }
	moved_passes 3
}

# (3) a TLS client that trusts serve's CA but has no certificate, and
# sends a migration's HELLO: refused in the handshake (the HELLO is never
# read: the one line is the handshake's), and serve takes the next.
case_migrate_x509_no_client_cert() {
	target_up || return 1
	serve_x509 || return 1
	hello_frames >"$RD/hello.bin"
	timeout 10 gnutls-cli --x509cafile "$RD/pki/a/ca.pem" -p "$SPORT" 127.0.0.1 \
		<"$RD/hello.bin" >"$RD/cli.out" 2>&1
	serve_says 1 "connection 1 from 127\.0\.0\.1:[0-9]* refused: TLS handshake failed \
(Certificate is required" || return 1
	if [ "$(grep -vc 'listening on' "$RD/serve.err")" != 1 ]; then
		REASON="serve logged more than one line for the peer: $(tail -n 2 "$RD/serve.err" |
			cut -c1-150 | tr '\n' ' ')"
		return 1
	fi
	if ! grep -q "Certificate is required" "$RD/cli.out"; then
		REASON="the client was not told why: $(tail -n 2 "$RD/cli.out" | tr '\n' ' ')"
		return 1
	fi
	untouched || return 1
	x509 a a/cli
	mig "${X509[@]}" || { REASON="the migration after the bad peer failed"; return 1; }
	moved_passes 2
}

# (4) serve's certificate names 127.0.0.2, not --to's 127.0.0.1: migrate
# refuses it, naming both; with --tls-no-cn-verify it moves.
case_migrate_x509_name_mismatch() {
	target_up || return 1
	serve_x509 a/far || return 1
	x509 a a/cli
	mig "${X509[@]}"
	refused $? "pid $TPID" "refused before anything was frozen" \
		"name in the certificate does not match" "it must name 127.0.0.1" \
		"--tls-no-cn-verify" || return 1
	serve_says 1 "connection 1 from 127\.0\.0\.1:[0-9]* refused: TLS handshake failed: the \
peer refused it" || return 1
	untouched || return 1
	mig "${X509[@]}" --tls-no-cn-verify ||
		{ REASON="migrate --tls-no-cn-verify failed: $(head -n 1 "$RD/bad.err")"; return 1; }
	moved_passes 2
}

# (5) a private key of mode 644: serve does not start, migrate connects
# to nothing; each one line naming the file; the target untouched.
case_migrate_x509_key_mode() {
	local key=$RD/pki/a/open.key

	target_up || return 1
	cp "$RD/pki/a/srv.key" "$key"
	chmod 644 "$key"
	mkdir -p "$RD/srv"
	LM_TIMEOUT=10 bad_lmproc serve -D "$RD/srv" --listen 127.0.0.1:0 --tls-cacert \
		"$RD/pki/a/ca.pem" --tls-cert "$RD/pki/a/srv.pem" --tls-key "$key"
	refused $? "$key" "mode 644" "chmod 600" || return 1
	serve_x509 || return 1
	cp "$RD/pki/a/cli.key" "$key" && chmod 644 "$key"
	mig --tls-cacert "$RD/pki/a/ca.pem" --tls-cert "$RD/pki/a/cli.pem" --tls-key "$key"
	refused $? "$key" "mode 644" "chmod 600" || return 1
	sleep 0.3
	if [ "$(serve_lines connection)" != 0 ]; then
		REASON="migrate connected with a key others can read: $(tail -n 1 "$RD/serve.err")"
		return 1
	fi
	target_intact
}

# (6) a peer with a pre-shared key, either way: refused in the handshake.
case_migrate_x509_psk_peer() {
	target_up || return 1
	serve_x509 || return 1
	mig --tls-psk-file "$RD/psk"
	refused $? "pid $TPID" "refused before anything was frozen" "TLS handshake failed" ||
		return 1
	serve_says 1 "connection 1 from 127\.0\.0\.1:[0-9]* refused: TLS handshake failed" ||
		return 1
	kill -TERM "$SPID"
	wait_until 5000 gone "$SPID" || { REASON="serve did not stop on SIGTERM"; return 1; }
	serve_up || return 1
	x509 a a/cli
	mig "${X509[@]}"
	refused $? "pid $TPID" "refused before anything was frozen" "TLS" || return 1
	serve_says 1 "connection 1 from 127\.0\.0\.1:[0-9]* refused: TLS handshake failed" ||
		return 1
	target_intact
}

# opt_refused ST WORD...: the last bad_lmproc exited ST (2: usage, one
# "lmproc: " line; 1: one error line), naming each WORD.
opt_refused() {
	local st=$1 want=$2 w

	shift 2
	if [ "$st" != "$want" ]; then
		REASON="lmproc exited $st, not $want: $(head -n 1 "$RD/bad.err" | cut -c1-200)"
		return 1
	fi
	if [ "$want" = 2 ]; then
		one_line_error "$RD/bad.err" '^lmproc: ' || return 1
	else
		one_line_error "$RD/bad.err" || return 1
	fi
	for w; do
		names "$w" || { REASON="the error does not name '$w': $(head -n 1 "$RD/bad.err")"
			return 1; }
	done
}

# (7) the channel's options mixed or incomplete: usage errors; files
# missing, not PEM, or a key that is not the certificate's: one error
# line naming them; the target untouched.
case_migrate_x509_options() {
	local p=$RD/pki to=(-t 0 --to 127.0.0.1:9)

	target_up || return 1
	to[1]=$TPID
	bad_lmproc migrate "${to[@]}" --insecure --tls-cacert "$p/a/ca.pem"
	opt_refused $? 2 "--insecure takes no" || return 1
	bad_lmproc migrate "${to[@]}" --tls-psk-file "$RD/psk" --tls-cacert "$p/a/ca.pem" \
		--tls-cert "$p/a/cli.pem" --tls-key "$p/a/cli.key"
	opt_refused $? 2 "--tls-psk-file" "can't be mixed" || return 1
	bad_lmproc migrate "${to[@]}" --tls-cacert "$p/a/ca.pem" --tls-cert "$p/a/cli.pem"
	opt_refused $? 2 "--tls-cert needs --tls-key" || return 1
	bad_lmproc migrate "${to[@]}" --tls-cacert "$p/a/ca.pem" --tls-key "$p/a/cli.key"
	opt_refused $? 2 "--tls-key needs --tls-cert" || return 1
	bad_lmproc migrate "${to[@]}" --tls-cert "$p/a/cli.pem" --tls-key "$p/a/cli.key"
	opt_refused $? 2 "need --tls-cacert" || return 1
	bad_lmproc migrate "${to[@]}" --tls-cacert "$p/a/ca.pem"
	opt_refused $? 2 "--tls-cacert needs --tls-cert and --tls-key" || return 1
	bad_lmproc migrate "${to[@]}" --tls-psk-file "$RD/psk" --tls-no-cn-verify
	opt_refused $? 2 "--tls-no-cn-verify needs" || return 1
	bad_lmproc serve -D "$RD" --tls-cacert "$p/a/ca.pem" --tls-cert "$p/a/srv.pem" \
		--tls-key "$p/a/srv.key" --tls-no-cn-verify
	opt_refused $? 2 "--tls-no-cn-verify is migrate's" || return 1
	bad_lmproc migrate "${to[@]}" --tls-cacert "$p/none.pem" --tls-cert "$p/a/cli.pem" \
		--tls-key "$p/a/cli.key"
	opt_refused $? 1 "--tls-cacert $p/none.pem" "No such file" || return 1
	bad_lmproc migrate "${to[@]}" --tls-cacert "$p/a/ca.pem" --tls-cert "$p/a/cli.tmpl" \
		--tls-key "$p/a/cli.key"
	opt_refused $? 1 "--tls-cert $p/a/cli.tmpl" "not PEM" || return 1
	bad_lmproc migrate "${to[@]}" --tls-cacert "$p/a/ca.pem" --tls-cert "$p/a/cli.pem" \
		--tls-key "$p/a/srv.key"
	opt_refused $? 1 "$p/a/cli.pem" "$p/a/srv.key" "do not match" || return 1
	target_intact
}

run_migrate_x509_bad_input() {
	local c

	for c in migrate-x509 migrate-x509-wrong-ca migrate-x509-no-client-cert \
		migrate-x509-name-mismatch migrate-x509-key-mode migrate-x509-psk-peer \
		migrate-x509-options; do
		CASE_KIND=migrate bad_case "$c" mig_case x509_case "case_${c//-/_}"
	done
}
