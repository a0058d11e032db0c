// SPDX-License-Identifier: MIT
// A UDP server module for the Etsy statsd daemon (its `server` config key),
// the same as statsd's own servers/udp.js but with a 4 MiB receive buffer
// (the kernel caps it at net.core.rmem_max). With the default ~208 KiB, the
// final flushes of a dozen PostgreSQL processes exiting at once overflowed
// it now and then, and the kernel dropped whole datagrams (RcvbufErrors):
// exact counts need every datagram the shim sent.
const dgram = require('dgram');

exports.start = function (config, callback) {
  const server = dgram.createSocket({
    type: config.address_ipv6 ? 'udp6' : 'udp4',
    recvBufferSize: 4 << 20,
  }, callback);
  server.bind(config.port || 8125, config.address || undefined);
  this.server = server;
  return true;
};
