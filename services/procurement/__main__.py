from services.procurement.app import service

service.run()
