import { execFileSync } from 'node:child_process';
import type { XoAlgorithm } from '../../src-main/formats/xo-encryption/xo-cipher.js';

// A second, independent implementation of Xen Orchestra's encrypted file (nonce 12 | ciphertext | tag 16, no
// associated data): Python's `cryptography` (Debian's python3-cryptography, installed by .ci/run). Tests use
// it to prove byte compatibility: what it writes, Sluice reads; what Sluice writes, it reads.

const PY_CLASS: Record<XoAlgorithm, string> = { 'chacha20-poly1305': 'ChaCha20Poly1305', 'aes-256-gcm': 'AESGCM' };

function python(script: string, input: Buffer): Buffer {
  return execFileSync('python3', ['-c', script], { input, maxBuffer: 256 * 1024 * 1024 });
}

export function pythonEncrypt(alg: XoAlgorithm, key: Buffer, plain: Buffer): Buffer {
  return python(
    `import os,sys
from cryptography.hazmat.primitives.ciphers.aead import ${PY_CLASS[alg]} as A
n=os.urandom(12); d=sys.stdin.buffer.read()
sys.stdout.buffer.write(n+A(bytes.fromhex('${key.toString('hex')}')).encrypt(n,d,None))`,
    plain,
  );
}

export function pythonDecrypt(alg: XoAlgorithm, key: Buffer, file: Buffer): Buffer {
  return python(
    `import sys
from cryptography.hazmat.primitives.ciphers.aead import ${PY_CLASS[alg]} as A
d=sys.stdin.buffer.read()
sys.stdout.buffer.write(A(bytes.fromhex('${key.toString('hex')}')).decrypt(d[:12],d[12:],None))`,
    file,
  );
}

/**
 * Every file under `from` decrypted into the same place under `to` (as XO's handler reads them), except
 * `encryption.json`, which is not encrypted and is left out, with `metadata.json`: the plain repository.
 */
export function pythonDecryptTree(alg: XoAlgorithm, key: Buffer, from: string, to: string): void {
  execFileSync(
    'python3',
    [
      '-c',
      `import os,sys
from cryptography.hazmat.primitives.ciphers.aead import ${PY_CLASS[alg]} as A
a=A(bytes.fromhex('${key.toString('hex')}')); src,dst=sys.argv[1],sys.argv[2]
for root,dirs,files in os.walk(src):
  for f in files:
    p=os.path.join(root,f); rel=os.path.relpath(p,src)
    if rel in ('encryption.json','metadata.json') or os.path.basename(rel).startswith('.'): continue
    d=open(p,'rb').read(); q=os.path.join(dst,rel); os.makedirs(os.path.dirname(q),exist_ok=True)
    open(q,'wb').write(a.decrypt(d[:12],d[12:],None))`,
      from,
      to,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/**
 * A plain repository made into an encrypted remote as Xen Orchestra makes one: every file under `from`
 * encrypted into `to`, with `encryption.json` naming the algorithm and `metadata.json` proving the key.
 */
export function pythonEncryptTree(alg: XoAlgorithm, key: Buffer, from: string, to: string): void {
  execFileSync(
    'python3',
    [
      '-c',
      `import os,sys,json,uuid
from cryptography.hazmat.primitives.ciphers.aead import ${PY_CLASS[alg]} as A
a=A(bytes.fromhex('${key.toString('hex')}')); src,dst=sys.argv[1],sys.argv[2]
def enc(d):
  n=os.urandom(12); return n+a.encrypt(n,d,None)
os.makedirs(dst,exist_ok=True)
open(os.path.join(dst,'encryption.json'),'w').write(json.dumps({'algorithm':'${alg}'}))
open(os.path.join(dst,'metadata.json'),'wb').write(enc(json.dumps({'random':str(uuid.uuid4())}).encode()))
for root,dirs,files in os.walk(src):
  for f in files:
    p=os.path.join(root,f); q=os.path.join(dst,os.path.relpath(p,src)); os.makedirs(os.path.dirname(q),exist_ok=True)
    open(q,'wb').write(enc(open(p,'rb').read()))`,
      from,
      to,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}
