"""Sales: order intake, the order saga (saga/) and the order timeline."""
