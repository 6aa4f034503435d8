// SHA-256 and SHA-1 (FIPS 180-4), for marathon-lb's stable server ids and
// sticky cookie values. Small inputs only: names of servers.

#include <array>
#include <cstdint>
#include <string>

#include "apps/lb/render_internal.hpp"

namespace stoa::lb::render_detail {
namespace {

uint32_t hash_rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
uint32_t hash_rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

// The message padded to a multiple of 64 bytes with the bit length appended
// big-endian.
std::string hash_pad(const std::string& data) {
  std::string m = data;
  uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  m += static_cast<char>(0x80);
  while (m.size() % 64 != 56) {
    m += '\0';
  }
  for (int i = 7; i >= 0; --i) {
    m += static_cast<char>((bits >> (i * 8)) & 0xff);
  }
  return m;
}

uint32_t hash_word(const std::string& m, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(m[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(m[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(m[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(m[at + 3]));
}

template <size_t N>
std::string hash_hex(const std::array<uint32_t, N>& h) {
  static const char* const digits = "0123456789abcdef";
  std::string out;
  for (uint32_t w : h) {
    for (int i = 28; i >= 0; i -= 4) {
      out += digits[(w >> i) & 0xf];
    }
  }
  return out;
}

constexpr std::array<uint32_t, 64> SHA256_K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

}  // namespace

std::string sha256_hex(const std::string& data) {
  std::array<uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string m = hash_pad(data);
  for (size_t chunk = 0; chunk < m.size(); chunk += 64) {
    std::array<uint32_t, 64> w{};
    for (size_t i = 0; i < 16; ++i) {
      w[i] = hash_word(m, chunk + i * 4);
    }
    for (size_t i = 16; i < 64; ++i) {
      uint32_t s0 = hash_rotr(w[i - 15], 7) ^ hash_rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = hash_rotr(w[i - 2], 17) ^ hash_rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::array<uint32_t, 8> v = h;
    for (size_t i = 0; i < 64; ++i) {
      uint32_t s1 = hash_rotr(v[4], 6) ^ hash_rotr(v[4], 11) ^ hash_rotr(v[4], 25);
      uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
      uint32_t t1 = v[7] + s1 + ch + SHA256_K[i] + w[i];
      uint32_t s0 = hash_rotr(v[0], 2) ^ hash_rotr(v[0], 13) ^ hash_rotr(v[0], 22);
      uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      uint32_t t2 = s0 + maj;
      v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
    }
    for (size_t i = 0; i < 8; ++i) {
      h[i] += v[i];
    }
  }
  return hash_hex(h);
}

std::string sha1_hex(const std::string& data) {
  std::array<uint32_t, 5> h = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string m = hash_pad(data);
  for (size_t chunk = 0; chunk < m.size(); chunk += 64) {
    std::array<uint32_t, 80> w{};
    for (size_t i = 0; i < 16; ++i) {
      w[i] = hash_word(m, chunk + i * 4);
    }
    for (size_t i = 16; i < 80; ++i) {
      w[i] = hash_rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (size_t i = 0; i < 80; ++i) {
      uint32_t f = 0;
      uint32_t k = 0;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      uint32_t t = hash_rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = hash_rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  return hash_hex(h);
}

int server_id(const std::string& server_name, std::set<int>& taken) {
  std::string name = server_name;
  // Each retry appends a digest: terminates with overwhelming probability;
  // the bound only guards against a pathological loop.
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::string digest = sha256_hex(name);
    int id = 0;
    for (char hex : digest) {
      int d = hex <= '9' ? hex - '0' : hex - 'a' + 10;
      id = (id * 16 + d) % 32767;
    }
    if (id > 0 && taken.insert(id).second) {
      return id;
    }
    name += " " + digest;
  }
  for (int id = 1; id < 32767; ++id) {
    if (taken.insert(id).second) {
      return id;
    }
  }
  return 0;
}

std::string cookie_value(const std::string& server_name) {
  return sha1_hex(server_name).substr(0, 10);
}

std::string clean_name(const std::string& s) {
  std::string out = s;
  for (char& ch : out) {
    bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '-';
    if (!keep) {
      ch = '_';
    }
  }
  return out;
}

}  // namespace stoa::lb::render_detail
