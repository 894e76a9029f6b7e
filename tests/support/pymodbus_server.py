#!/usr/bin/python3
"""Independent Modbus TCP server for the transport tests: Debian's python3-pymodbus (3.0.x).

Usage: pymodbus_server.py PORT [UNIT ...]
Each unit u serves holding registers 0..99 with value u*1000 + address and input registers 0..99 with
u*1000 + 500 + address; anything outside that range is answered with exception 2 (illegal data address).
Units not listed do not answer at all (a TCP gateway with nothing behind that unit id).
"""
import sys
import types

# Debian packages pymodbus without its serial extras installed; the TCP server never touches them, but the
# package imports them unconditionally. Stub them so only the TCP code path is loaded.
for name in ("serial", "serial_asyncio"):
    if name not in sys.modules:
        try:
            __import__(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.create_serial_connection = None
            stub.Serial = None
            sys.modules[name] = stub

from pymodbus.datastore import (  # noqa: E402
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server import StartTcpServer  # noqa: E402


def main():
    port = int(sys.argv[1])
    units = [int(u) for u in sys.argv[2:]] or [1]
    slaves = {}
    for unit in units:
        holding = ModbusSequentialDataBlock(0, [unit * 1000 + a for a in range(100)])
        inputs = ModbusSequentialDataBlock(0, [unit * 1000 + 500 + a for a in range(100)])
        slaves[unit] = ModbusSlaveContext(hr=holding, ir=inputs, zero_mode=True)
    context = ModbusServerContext(slaves=slaves, single=False)
    print(f"pymodbus {__import__('pymodbus').__version__} serving units {units} on 127.0.0.1:{port}", flush=True)
    StartTcpServer(context=context, address=("127.0.0.1", port))


if __name__ == "__main__":
    main()
