from services.warehouse.app import service

service.run()
