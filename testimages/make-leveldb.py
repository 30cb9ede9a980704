#!/usr/bin/env python3
"""A LevelDB database written by the LevelDB library (through plyvel): single
puts and a write batch large enough to be split across 32 KiB blocks, closed
before its memtable is flushed, so its write-ahead log (NNNNNN.log) and
MANIFEST-NNNNNN hold everything. Usage: make-leveldb.py DIR"""
import sys

import plyvel

db = plyvel.DB(sys.argv[1], create_if_missing=True, write_buffer_size=64 << 20)
for i in range(3000):
    db.put(b"key%06d" % i, b"value of record %d " % i * 5)
batch = db.write_batch()
for i in range(100):
    batch.put(b"batch%03d" % i, bytes(range(256)) * 3)
batch.write()
db.delete(b"key000007")
db.close()
