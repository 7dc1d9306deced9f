"""Sales: order intake, the order saga (saga.py) and the order timeline."""
