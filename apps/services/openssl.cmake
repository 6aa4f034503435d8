# OpenSSL for stoa_services: the HTTPS health probe (probe.cpp) speaks TLS
# without verifying certificates. Included by CMakeLists.txt.
find_package(OpenSSL REQUIRED)
target_link_libraries(stoa_services PUBLIC OpenSSL::SSL OpenSSL::Crypto)
