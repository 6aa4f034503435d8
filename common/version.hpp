#pragma once
// Version of this Stoa build (shown by /version and in /master/state).
#define STOA_VERSION "0.1.0"
#define STOA_BUILD_DATE __DATE__ " " __TIME__
#define STOA_BUILD_TIME 0.0
#define STOA_BUILD_USER "stoa"
