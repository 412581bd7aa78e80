#!/usr/bin/env bash
# tls-certs.sh DIR: a throwaway CA and a node certificate for local TLS tests.
#
# Writes DIR/ca.pem, DIR/node.pem, DIR/node-key.pem, DIR/keystore.p12 and
# DIR/truststore.p12 (password: $CASSANDRA_TLS_PASSWORD, default changeit).
# The node certificate names 127.0.0.1-127.0.0.30 and localhost. Idempotent:
# an existing DIR/keystore.p12 is kept.
set -euo pipefail
dir=${1:?usage: tls-certs.sh DIR}
pass=${CASSANDRA_TLS_PASSWORD:-changeit}
mkdir -p "$dir"
[ -f "$dir/keystore.p12" ] && exit 0
command -v openssl >/dev/null || { echo "tls-certs.sh: openssl is required (apt-get install openssl)" >&2; exit 1; }
keytool=$(ls /usr/lib/jvm/java-17-openjdk-*/bin/keytool 2>/dev/null | head -1)
[ -n "$keytool" ] || keytool=$(command -v keytool) || { echo "tls-certs.sh: keytool (Java 17) is required" >&2; exit 1; }

sans="DNS:localhost"
for i in $(seq 1 30); do sans="$sans,IP:127.0.0.$i"; done
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=userapi test CA" \
  -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout node-key.pem -out node.csr 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$sans" >node.ext
openssl x509 -req -in node.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
  -extfile node.ext -out node.pem 2>/dev/null
openssl pkcs12 -export -in node.pem -inkey node-key.pem -certfile ca.pem -name node \
  -passout "pass:$pass" -out keystore.p12
rm -f truststore.p12
"$keytool" -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 \
  -storetype PKCS12 -storepass "$pass" >/dev/null 2>&1
rm -f node.csr node.ext ca.srl
echo "$dir"
