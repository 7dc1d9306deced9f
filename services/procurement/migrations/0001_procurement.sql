CREATE TABLE suppliers (
    supplier_id  TEXT PRIMARY KEY,
    name         TEXT NOT NULL
);

-- Which suppliers sell a product, in order of preference (rank 1 = primary).
CREATE TABLE supplier_products (
    supplier_id     TEXT NOT NULL REFERENCES suppliers,
    sku             TEXT NOT NULL,
    rank            INT NOT NULL,
    lead_time_days  INT NOT NULL,
    unit_cost       NUMERIC(14, 2) NOT NULL,
    PRIMARY KEY (supplier_id, sku),
    UNIQUE (sku, rank)
);

CREATE TABLE purchase_orders (
    purchase_order_id  TEXT PRIMARY KEY,
    order_id           TEXT,            -- NULL for replenishment of stock
    supplier_id        TEXT NOT NULL REFERENCES suppliers,
    sku                TEXT NOT NULL,
    quantity           INT NOT NULL CHECK (quantity > 0),
    unit_cost          NUMERIC(14, 2) NOT NULL,
    status             TEXT NOT NULL,   -- placed | confirmed | rejected | received | cancelled
    cause_message_id   UUID NOT NULL UNIQUE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX purchase_orders_by_order ON purchase_orders (order_id);
