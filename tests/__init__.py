"""The test suite, a package so that the benchmarks can import its loopback Lichess
(``from tests.lichess_server import LichessServer``)."""
