# Writes OUT from IN with @PAGES@ and @TOUCH@ replaced (used for the wasm64 test modules).
cmake_minimum_required(VERSION 3.20)
configure_file(${IN} ${OUT} @ONLY)
