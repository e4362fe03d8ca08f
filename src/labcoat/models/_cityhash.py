"""CityHash64 (Google's CityHash v1.0), in Python: the hash CatBoost gives categorical values.

CatBoost hashes a categorical value's UTF-8 bytes with CityHash64 and keeps the low 32 bits
(:func:`category_hash`); its models store only these hashes, not the values. Checked against
CatBoost's own hashing (``Pool(group_id=...)``, the same function) in ``tests/test_fastpath.py``.
"""

from __future__ import annotations

_M = 0xFFFFFFFFFFFFFFFF
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F
_K3 = 0xC949D7C7509E6557
_KMUL = 0x9DDFEA08EB382D69


def category_hash(value: str) -> int:
    """CatBoost's hash of a categorical value: CityHash64's low 32 bits, as a signed int."""
    low = city_hash64(value.encode("utf-8")) & 0xFFFFFFFF
    return low - (1 << 32) if low >= 1 << 31 else low


def city_hash64(s: bytes) -> int:
    n = len(s)
    if n <= 16:
        return _len0to16(s)
    if n <= 32:
        return _len17to32(s)
    if n <= 64:
        return _len33to64(s)
    x = _f64(s, 0)
    y = _f64(s, n - 16) ^ _K1
    z = _f64(s, n - 56) ^ _K0
    v = _weak32(s, n - 64, n, y)
    w = _weak32(s, n - 32, (n * _K1) & _M, _K0)
    z = (z + _shift_mix(v[1]) * _K1) & _M
    x = (_rot((z + x) & _M, 39) * _K1) & _M
    y = (_rot(y, 33) * _K1) & _M
    at, left = 0, (n - 1) & ~63  # 64-byte chunks
    while True:
        x = (_rot((x + y + v[0] + _f64(s, at + 16)) & _M, 37) * _K1) & _M
        y = (_rot((y + v[1] + _f64(s, at + 48)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y ^= v[0]
        z = _rot(z ^ w[0], 33)
        v = _weak32(s, at, (v[1] * _K1) & _M, (x + w[0]) & _M)
        w = _weak32(s, at + 32, (z + w[1]) & _M, y)
        z, x = x, z
        at += 64
        left -= 64
        if left == 0:
            break
    return _hash16((_hash16(v[0], w[0]) + _shift_mix(y) * _K1 + z) & _M, (_hash16(v[1], w[1]) + x) & _M)


def _f64(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 8], "little")


def _f32(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 4], "little")


def _rot(v: int, shift: int) -> int:
    return v if shift == 0 else ((v >> shift) | (v << (64 - shift))) & _M


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _hash16(u: int, v: int) -> int:
    a = ((u ^ v) * _KMUL) & _M
    a ^= a >> 47
    b = ((v ^ a) * _KMUL) & _M
    b ^= b >> 47
    return (b * _KMUL) & _M


def _weak32(s: bytes, at: int, a: int, b: int) -> tuple[int, int]:
    w, x, y, z = _f64(s, at), _f64(s, at + 8), _f64(s, at + 16), _f64(s, at + 24)
    a = (a + w) & _M
    b = _rot((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rot(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def _len0to16(s: bytes) -> int:
    n = len(s)
    if n > 8:
        a, b = _f64(s, 0), _f64(s, n - 8)
        return _hash16(a, _rot((b + n) & _M, n)) ^ b
    if n >= 4:
        return _hash16((n + (_f32(s, 0) << 3)) & _M, _f32(s, n - 4))
    if n > 0:
        y = (s[0] + (s[n >> 1] << 8)) & 0xFFFFFFFF
        z = (n + (s[n - 1] << 2)) & 0xFFFFFFFF
        return (_shift_mix(((y * _K2) ^ (z * _K3)) & _M) * _K2) & _M
    return _K2


def _len17to32(s: bytes) -> int:
    n = len(s)
    a = (_f64(s, 0) * _K1) & _M
    b = _f64(s, 8)
    c = (_f64(s, n - 8) * _K2) & _M
    d = (_f64(s, n - 16) * _K0) & _M
    return _hash16((_rot((a - b) & _M, 43) + _rot(c, 30) + d) & _M, (a + _rot(b ^ _K3, 20) - c + n) & _M)


def _len33to64(s: bytes) -> int:
    n = len(s)
    z = _f64(s, 24)
    a = (_f64(s, 0) + (n + _f64(s, n - 16)) * _K0) & _M
    b = _rot((a + z) & _M, 52)
    c = _rot(a, 37)
    a = (a + _f64(s, 8)) & _M
    c = (c + _rot(a, 7)) & _M
    a = (a + _f64(s, 16)) & _M
    vf, vs = (a + z) & _M, (b + _rot(a, 31) + c) & _M
    a = (_f64(s, 16) + _f64(s, n - 32)) & _M
    z = _f64(s, n - 8)
    b = _rot((a + z) & _M, 52)
    c = _rot(a, 37)
    a = (a + _f64(s, n - 24)) & _M
    c = (c + _rot(a, 7)) & _M
    a = (a + _f64(s, n - 16)) & _M
    wf, ws = (a + z) & _M, (b + _rot(a, 31) + c) & _M
    r = _shift_mix(((vf + ws) * _K2 + (wf + vs) * _K0) & _M)
    return (_shift_mix((r * _K0 + vs) & _M) * _K2) & _M
