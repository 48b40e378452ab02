"""Make the small real CIFAR-10 sample that ships inside the package.

    python scripts/make_sample.py ../shared/data/cifar10.npz --out cifar_cnn/assets/cifar10_sample.npz

Takes a stratified, seeded random subset of the full CIFAR-10 arrays (`--train-per-class` images of each
class from the training set and `--test-per-class` from the test set), keeps their indices in the source
file, and writes them with `np.savez_compressed`. Running it again with the same source and arguments gives
the same arrays. Provenance: cifar_cnn/assets/SAMPLE.md.

The images are stored as lossless WebP mosaics (rows of 50 images), which is about half the size of a
zlib-compressed array and decodes back to exactly the same pixels (checked below and by `load_sample`).
"""
import argparse, hashlib, json
from pathlib import Path
import numpy as np, cv2

def pick(y, per_class, rng):
    "Indices of `per_class` random examples of each class, sorted."
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]))

def to_webp(x, per_row=50):
    "Encode uint8 images (N,32,32,3), N a multiple of `per_row`, as one lossless WebP mosaic."
    n, h, w, c = x.shape
    m = x.reshape(n // per_row, per_row, h, w, c).transpose(0, 2, 1, 3, 4).reshape(n // per_row * h, per_row * w, c)
    ok, buf = cv2.imencode('.webp', np.ascontiguousarray(m[..., ::-1]), [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok
    back = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    assert (back == m).all(), 'WebP round trip is not lossless'
    return buf.ravel()

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('src'); p.add_argument('--out', required=True)
    p.add_argument('--train-per-class', type=int, default=250); p.add_argument('--test-per-class', type=int, default=100)
    p.add_argument('--seed', type=int, default=2026)
    a = p.parse_args()
    with np.load(a.src) as d: xtr, ytr, xte, yte = (d[k] for k in ('x_train', 'y_train', 'x_test', 'y_test'))
    rng = np.random.default_rng(a.seed)
    itr, ite = pick(ytr, a.train_per_class, rng), pick(yte, a.test_per_class, rng)
    arrs = dict(x_train=xtr[itr], y_train=ytr[itr], x_test=xte[ite], y_test=yte[ite], train_index=itr, test_index=ite)
    sha = {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in arrs.items()}
    meta = dict(source=Path(a.src).name, seed=a.seed, train_per_class=a.train_per_class, test_per_class=a.test_per_class, sha256=sha)
    out = Path(a.out); tmp = out.with_name(out.stem + '.tmp.npz')
    np.savez(tmp, x_train_webp=to_webp(arrs['x_train']), x_test_webp=to_webp(arrs['x_test']),
             y_train=arrs['y_train'], y_test=arrs['y_test'], train_index=itr, test_index=ite, meta=np.array(json.dumps(meta)))
    tmp.replace(out)
    print(json.dumps(dict(file=str(out), bytes=out.stat().st_size, shapes={k: list(v.shape) for k, v in arrs.items()}, **meta), indent=1))

if __name__ == '__main__': main()
