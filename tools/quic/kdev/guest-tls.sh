#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest: real TLS 1.3 handshakes (rustls, through
# tools/quic/handshake's quic-echo) over the kernel's IPPROTO_QUIC sockets,
# then stream data echoed back. Writes TAP to RESULTS/tls.tap.
# Usage: guest-tls.sh RESULTS_DIR QUIC_ECHO
results=$1 echo_bin=$2
set -u
tap="$results/tls.tap"
dir=$(mktemp -d)
n=0
plan=6
echo "1..$plan" > "$tap"
result() { # ok?, name, detail
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2" >> "$tap"
	else
		echo "not ok $n $2 # $3" >> "$tap"
	fi
}

cd "$dir" || exit 1
# A CA and a leaf certificate for "localhost".
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=quic-test-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-subj /CN=localhost -keyout key.pem -out req.pem 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' > ext.cnf
openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
	-extfile ext.cnf -out cert.pem 2>/dev/null

# echo_case NAME ADDR SERVER_ALPN CLIENT_ALPN MESSAGE EXPECT_OK
echo_case() {
	name=$1 addr=$2 salpn=$3 calpn=$4 msg=$5 expect=$6
	"$echo_bin" server "$addr" key.pem cert.pem "$salpn" > "server-$n.log" 2>&1 &
	spid=$!
	sleep 1
	timeout 30 "$echo_bin" client "$addr" "$calpn" --ca ca.pem --name localhost "$msg" \
		> "client-$n.out" 2> "client-$n.err"
	rc=$?
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	if [ "$expect" = ok ]; then
		if [ $rc = 0 ] && [ "$(cat "client-$n.out")" = "$msg" ]; then
			result 0 "$name"
		else
			result 1 "$name" "exit $rc: $(tail -1 "client-$n.err")"
		fi
	elif [ $rc != 0 ] && grep -q "$expect" "client-$n.err"; then
		result 0 "$name"
	else
		result 1 "$name" "exit $rc, wanted a failure with $expect: $(tail -1 "client-$n.err")"
	fi
}

echo_case "ipv4 handshake and echo" 127.0.0.1:4433 smb smb "hello over kernel QUIC" ok
echo_case "ipv6 handshake and echo" "[::1]:4433" smb smb "hello over IPv6" ok
big=$(head -c 60000 /dev/zero | tr '\0' 'q')
echo_case "ipv4 60 kB echo" 127.0.0.1:4434 smb smb "$big" ok
echo_case "alpn picks among several" 127.0.0.1:4435 "h3,smb" smb "alpn" ok
echo_case "no common alpn is refused" 127.0.0.1:4436 h3 smb "x" "120\|no_application_protocol\|refused"
# The server's certificate must chain to the client's CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=other-ca -keyout other.key -out other.pem 2>/dev/null
cp ca.pem good-ca.pem
cp other.pem ca.pem
echo_case "untrusted certificate is refused" 127.0.0.1:4437 smb smb "x" "certificate\|UnknownIssuer\|alert"
cp good-ca.pem ca.pem
